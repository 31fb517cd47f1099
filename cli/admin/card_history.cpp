#include "cli/admin/card_history.h"

#include <ctime>

#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/pins.h"
#include "pkcs11/names.h"

namespace attache::cli::admin {

CardHistory::CardHistory(std::string inventory_path, std::string serial)
    : path_(std::move(inventory_path)), serial_(std::move(serial)) {
    check(Inventory::check_usable(path_),
          "the inventory must record this command, and cannot; nothing was changed", kInventory);
}

Status CardHistory::record(const std::string& event, const std::string& reason) const {
    ATTACHE_TRY(Inventory inventory, Inventory::open_or_create(path_));
    ATTACHE_TRY(auto open, inventory.open_enrolment(serial_));
    CardEvent e;
    e.token_serial = serial_;
    if (open)
        e.record = open->id;
    e.at = time_string(std::time(nullptr));
    e.by = Operator::current();
    e.event = event;
    e.reason = reason;
    return inventory.add_card_event(e);
}

void CardHistory::record_done(const std::string& event, const std::string& reason,
                              const std::string& done) const {
    if (Status s = record(event, reason); !s)
        fail(kInventory, done + ", but recording it in the inventory " + path_ +
                             " failed: " + s.error().message());
}

void CardHistory::so_pin_failure(const Error& error, SelectedToken& token,
                                 const std::string& during) const {
    try {
        pin_failure(error, token, PinRole::so);
    } catch (const CommandFailure& failure) {
        if (!error.is(CKR_PIN_INCORRECT) && !error.is(CKR_PIN_LOCKED))
            throw;
        std::string flags;
        if (auto info = token.module.token_info(token.slot))
            flags = p11::pin_flag_names(info->flags);
        Status s = record("so-pin-rejected",
                          during + ": " + p11::rv_name(*error.rv()) + "; the token then reported " +
                              (flags.empty() ? std::string("no PIN flags") : flags));
        if (s) {
            throw CommandFailure(failure.exit_code(),
                                 std::string(failure.what()) + ". Recorded in " + path_,
                                 failure.detail());
        }
        throw CommandFailure(failure.exit_code(),
                             std::string(failure.what()) +
                                 ". Recording it in the inventory failed: " + s.error().message(),
                             failure.detail());
    }
    throw CommandFailure(kFailure, "internal error: pin_failure returned");
}

}  // namespace attache::cli::admin
