#pragma once

// The life cycle of an enrolled card, after the card-management systems that issue smartcards:
//
//   awaiting-certificate --cert import--> active <--> suspended
//        |                                  |            |
//        +--------------+-------------------+------------+
//                       v                   v
//                 lost, damaged  ------> retired  (terminal)
//
// `enrol` creates a record awaiting its certificates; `cert import` activates it once every key
// has its certificate; `retire` (card in hand, keys destroyed) retires it from any state. An
// operator moves it by hand (`inventory set-state`, with a reason) between active and
// suspended, to lost or damaged from any open state, and from lost or damaged to retired (a
// card that is gone cannot be wiped).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attache::cli::admin {

enum class CardState { awaiting_certificate, active, suspended, lost, damaged, retired };

std::string_view state_name(CardState state);
std::optional<CardState> state_from_name(std::string_view name);
std::vector<std::string> all_state_names();

// Whether `inventory set-state` may move a record from `from` to `to`; when not, `why` says
// what to do instead.
bool manual_transition_allowed(CardState from, CardState to, std::string& why);

}  // namespace attache::cli::admin
