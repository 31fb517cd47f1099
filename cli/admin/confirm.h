#pragma once

// The operator's go-ahead before Attache destroys what is on a card: the card's serial number,
// typed on the terminal, or given in advance with --confirm SERIAL (for scripts). Without a
// terminal and without --confirm the command refuses; a different answer cancels.

#include <string>

namespace attache::cli::admin {

// `what` says what is about to be destroyed ("This erases ... on card serial S"); `given` is
// --confirm's value (empty: ask). Returns when the answer is `serial`; otherwise a
// CommandFailure: kUsage without a terminal, kCancelled for another answer. `nothing_changed`
// ends the refusal's message.
void confirm_serial(const std::string& what, const std::string& serial, const std::string& given,
                    const std::string& nothing_changed = "nothing was changed");

}  // namespace attache::cli::admin
