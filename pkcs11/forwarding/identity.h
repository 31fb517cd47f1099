#pragma once

// How attache-pkcs11.so names itself, in one place for the module and the agent: the
// manufacturer in CK_INFO and every CK_SLOT_INFO (the agent refuses to load a module that
// reports it: it would be its own client), and the client name in its hello (the agent's hint
// that a request came through the module).

#include <string_view>

namespace attache::forwarding {

inline constexpr std::string_view kManufacturer = "Attache";
inline constexpr std::string_view kClientName = "attache-pkcs11";

}  // namespace attache::forwarding
