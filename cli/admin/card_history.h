#pragma once

// PIN events in the inventory's card history (inventory.h, CardEvent): user PIN changed or
// reset, SO PIN changed, SO PIN rejected. Events carry the time, the operator, the card's serial
// and open record, and a reason; never a PIN.
//
// A command that changes a PIN makes its CardHistory before it touches the card, so an
// inventory that cannot take the event stops it with nothing changed; it records once the card
// has answered.

#include <string>

#include "cli/admin/token_select.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

class CardHistory {
  public:
    // Checks that the inventory can be written (Inventory::check_usable); kInventory otherwise.
    CardHistory(std::string inventory_path, std::string serial);

    // Appends the event, under the card's open record if it has one (creating the inventory if
    // need be).
    Status record(const std::string& event, const std::string& reason) const;
    // record(), for an event the card has already done: a failure to record is a kInventory
    // failure that starts with `done` ("The user PIN was changed").
    void record_done(const std::string& event, const std::string& reason,
                     const std::string& done) const;

    // For a failed operation with the SO PIN (`during`: "pin unblock"): records so-pin-rejected
    // when the card rejected the PIN, then throws pin_failure()'s CommandFailure.
    [[noreturn]] void so_pin_failure(const Error& error, SelectedToken& token,
                                     const std::string& during) const;

    const std::string& inventory_path() const { return path_; }

  private:
    std::string path_;
    std::string serial_;
};

}  // namespace attache::cli::admin
