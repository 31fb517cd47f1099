#include "cli/admin/token_select.h"

#include "cli/admin/failure.h"
#include "pkcs11/uri.h"

namespace attache::cli::admin {

const p11::TokenInfo& SelectedToken::refresh() {
    info = check(module.token_info(slot), "reading the token's information");
    return info;
}

std::string SelectedToken::describe() const {
    return "'" + info.label + "' (serial " + info.serial + ", model " + info.model + ")";
}

p11::Module load_module(const std::string& module_spec) {
    return check(p11::Module::load(module_spec), "loading PKCS#11 module '" + module_spec + "'");
}

std::vector<TokenCandidate> matching_tokens(const p11::Module& module,
                                            const std::string& uri_text) {
    p11::Uri uri;
    if (!uri_text.empty())
        uri = check(p11::Uri::parse(uri_text), "--token", kUsage);
    std::vector<TokenCandidate> found;
    CK_INFO module_info = check(module.info());
    if (!uri.matches_module(module_info))
        return found;
    for (CK_SLOT_ID slot : check(module.slots(true), "listing the module's slots")) {
        CK_SLOT_INFO raw_slot{};
        if (module.fn()->C_GetSlotInfo(slot, &raw_slot) != CKR_OK)
            continue;  // the token went away between the calls
        if (!uri.matches_slot(slot, raw_slot))
            continue;
        auto info = module.token_info(slot);
        if (!info) {
            if (info.error().is(CKR_TOKEN_NOT_PRESENT) || info.error().is(CKR_DEVICE_REMOVED) ||
                info.error().is(CKR_TOKEN_NOT_RECOGNIZED)) {
                continue;
            }
            fail(info.error(), "reading token information");
        }
        if (!uri.matches_token(*info))
            continue;
        found.push_back({slot, *info, p11::Uri::for_token(*info)});
    }
    return found;
}

SelectedToken select_token(const std::string& module_spec, const std::string& uri_text) {
    // Parse first: a malformed URI is a usage error whatever the module holds.
    if (!uri_text.empty())
        (void)check(p11::Uri::parse(uri_text), "--token", kUsage);
    p11::Module module = load_module(module_spec);
    auto found = matching_tokens(module, uri_text);
    if (found.empty()) {
        auto any = matching_tokens(module, "");
        if (any.empty())
            fail(kTokenAbsent, "no token is present (module " + module.path() + ")");
        fail(kKeyNotFound, "no token matches " + uri_text + " (" + std::to_string(any.size()) +
                               " token(s) present; see `attache token list`)");
    }
    if (found.size() > 1) {
        std::string names;
        for (const auto& c : found)
            names += "\n  " + c.uri;
        fail(kAmbiguousToken, "the URI " + uri_text + " matches " + std::to_string(found.size()) +
                                  " tokens; name one by its serial:" + names);
    }
    TokenCandidate& only = found.front();
    return SelectedToken{std::move(module), only.slot, std::move(only.info), std::move(only.uri)};
}

}  // namespace attache::cli::admin
