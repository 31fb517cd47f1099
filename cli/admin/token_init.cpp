#include "cli/admin/token_init.h"

#include "cli/admin/failure.h"
#include "cli/command_output.h"
#include "cli/admin/pins.h"
#include "pkcs11/module.h"

namespace attache::cli::admin {
namespace {

struct VisibleObjects {
    size_t total = 0;
    size_t keys = 0;
    size_t certificates = 0;
};

VisibleObjects count_visible_objects(const SelectedToken& token) {
    auto session = check(token.module.open_session(token.slot, false), "opening a session");
    VisibleObjects count;
    for (CK_OBJECT_HANDLE h : check(session.find({}), "listing the token's objects")) {
        ++count.total;
        auto v = session.read(h, {CKA_CLASS});
        CK_ULONG klass = v ? v->ulong(CKA_CLASS).value_or(CKO_DATA) : CKO_DATA;
        if (klass == CKO_PUBLIC_KEY || klass == CKO_PRIVATE_KEY || klass == CKO_SECRET_KEY)
            ++count.keys;
        else if (klass == CKO_CERTIFICATE)
            ++count.certificates;
    }
    return count;
}

}  // namespace

InitPins prepare_initialisation(SelectedToken& token, const InitRequest& request) {
    if (request.label.empty() || request.label.size() > 32)
        fail(kUsage, "--label must have 1 to 32 bytes (CK_TOKEN_INFO's label field)");
    token.refresh();
    const bool initialised = token.info.initialized();
    if (initialised) {
        VisibleObjects objects = count_visible_objects(token);
        if (objects.total > 0 && !request.force) {
            fail(kUsage, "token " + token.describe() + " holds " + std::to_string(objects.total) +
                             " object(s) (" + std::to_string(objects.keys) + " key(s), " +
                             std::to_string(objects.certificates) +
                             " certificate(s)) that --init would erase; nothing was changed. "
                             "Retire the card first, or add --force to wipe it");
        }
        require_pin_triable(token.info, PinRole::so, request.so_pin_count_low_ok);
    }
    InitPins pins;
    // A blank token takes the SO PIN given here as its new SO PIN: ask twice, check the length.
    pins.so_pin = initialised ? read_pin(request.so_pin_source, token, PinRole::so)
                              : read_new_pin(request.so_pin_source, token, PinRole::so);
    pins.user_pin = read_new_pin(request.new_pin_source, token, PinRole::user);
    return pins;
}

void initialise_token(SelectedToken& token, const InitRequest& request, const InitPins& pins) {
    note("Initialising token " + token.describe() + " as '" + request.label +
         "': everything on it is erased.");
    if (Status s = token.module.init_token(token.slot, pins.so_pin, request.label); !s)
        pin_failure(s.error(), token, PinRole::so);
    token.refresh();

    const std::string after = "the token was initialised as '" + request.label +
                              "' but its user PIN is not set (set it with `attache pin unblock`)";
    auto session = token.module.open_session(token.slot, true);
    if (!session)
        fail(session.error(), after);
    if (Status s = session->login(CKU_SO, &pins.so_pin); !s)
        fail(s.error(), after);
    Status set = session->init_pin(pins.user_pin);
    (void)session->logout();
    if (!set)
        fail(set.error(), after);
    token.refresh();
}

}  // namespace attache::cli::admin
