#pragma once

// The module's log: lines on standard error, only when ATTACHE_PKCS11_DEBUG is set (read at
// C_Initialize), except notice(), which always prints (the agent is not running, the
// configuration file is wrong). Never a PIN, never data.

#include <string>

namespace attache::forwarding {

void set_debug(bool on);
bool debug_enabled();
void debug(const std::string& message);
void notice(const std::string& message);

}  // namespace attache::forwarding
