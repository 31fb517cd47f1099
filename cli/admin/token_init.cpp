#include "cli/admin/token_init.h"

#include "cli/admin/failure.h"
#include "cli/admin/pins.h"
#include "cli/command_output.h"
#include "pkcs11/module.h"

namespace attache::cli::admin {

bool CardContents::holds_anything() const {
    return objects > 0 || (initialised && label.find_first_not_of(' ') != std::string::npos);
}

std::string CardContents::describe() const {
    std::string s = std::to_string(objects) + " visible object(s) (" + std::to_string(keys) +
                    " key(s), " + std::to_string(certificates) + " certificate(s))";
    if (initialised)
        s += " on the token '" + label + "' and whatever private objects it holds";
    return s;
}

CardContents inspect_card(const SelectedToken& token) {
    CardContents contents;
    contents.initialised = token.info.initialized();
    contents.label = token.info.label;
    if (!contents.initialised)
        return contents;
    auto session = check(token.module.open_session(token.slot, false), "opening a session");
    for (CK_OBJECT_HANDLE h : check(session.find({}), "listing the token's objects")) {
        ++contents.objects;
        auto v = session.read(h, {CKA_CLASS});
        CK_ULONG klass = v ? v->ulong(CKA_CLASS).value_or(CKO_DATA) : CKO_DATA;
        if (klass == CKO_PUBLIC_KEY || klass == CKO_PRIVATE_KEY || klass == CKO_SECRET_KEY)
            ++contents.keys;
        else if (klass == CKO_CERTIFICATE)
            ++contents.certificates;
    }
    return contents;
}

void check_initialisation(SelectedToken& token, const InitRequest& request) {
    if (request.label.empty() || request.label.size() > 32)
        fail(kUsage, "--label must have 1 to 32 bytes (CK_TOKEN_INFO's label field)");
    token.refresh();
    if (token.info.initialized())
        require_pin_triable(token.info, PinRole::so, request.so_pin_count_low_ok);
}

InitPins read_init_pins(SelectedToken& token, const InitRequest& request) {
    InitPins pins;
    const bool blank = !token.info.initialized();
    if (blank) {
        pins.so_pin = read_new_pin(
            request.new_so_pin_source.empty() ? request.so_pin_source : request.new_so_pin_source,
            token, PinRole::so);
    } else {
        pins.so_pin = read_pin(request.so_pin_source, token, PinRole::so);
    }
    pins.user_pin = read_new_pin(request.new_pin_source, token, PinRole::user);
    if (!blank && !request.new_so_pin_source.empty())
        pins.new_so_pin = read_new_pin(request.new_so_pin_source, token, PinRole::so);
    return pins;
}

void initialise_token(SelectedToken& token, const InitRequest& request, const InitPins& pins,
                      const CardHistory& history) {
    note("Initialising token " + token.describe() + " as '" + request.label +
         "': everything on it is erased.");
    if (Status s = token.module.init_token(token.slot, pins.so_pin, request.label); !s)
        history.so_pin_failure(s.error(), token, "enrol --init (C_InitToken)");
    token.refresh();

    const std::string after = "the token was initialised as '" + request.label +
                              "' but its user PIN is not set (set it with `attache pin unblock`)";
    auto session = token.module.open_session(token.slot, true);
    if (!session)
        fail(session.error(), after);
    if (Status s = session->login(CKU_SO, &pins.so_pin); !s)
        fail(s.error(), after);
    Status set = session->init_pin(pins.user_pin);
    if (!set) {
        (void)session->logout();
        fail(set.error(), after);
    }
    if (pins.new_so_pin) {
        // C_SetPIN in an SO session changes the SO PIN.
        Status changed = session->set_pin(pins.so_pin, *pins.new_so_pin);
        (void)session->logout();
        if (!changed)
            fail(changed.error(), "the token was initialised as '" + request.label +
                                      "' and its user PIN set, but its SO PIN is still the one "
                                      "it had (change it with `attache pin change-so`)");
    } else {
        (void)session->logout();
    }
    token.refresh();
}

}  // namespace attache::cli::admin
