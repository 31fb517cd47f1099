#pragma once

#include <string>
#include <vector>

#include "pkcs11/agent_protocol/messages.h"

namespace attache::cli {

std::string key_type_name(protocol::KeyType type);              // "rsa", "ec", "ed25519"
std::vector<std::string> operation_names(uint32_t operations);  // {"sign", "decrypt", ...}
// The subject of a DER certificate, one line (RFC 2253); empty for none.
std::string certificate_subject(const Bytes& der);
// The end of a DER certificate's validity (cli/timestamp.h); empty for none.
std::string certificate_not_after(const Bytes& der);

}  // namespace attache::cli
