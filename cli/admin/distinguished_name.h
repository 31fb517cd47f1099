#pragma once

// Subject distinguished names from the command line, in either of the usual spellings:
//   RFC 4514, most specific first:  "CN=Alice Martin,OU=Embassy Paris,O=Ministry,C=FR"
//   OpenSSL's -subj, least first:   "/C=FR/O=Ministry/OU=Embassy Paris/CN=Alice Martin"
// A backslash escapes the next character. Attribute types are OpenSSL's short or long names
// (CN, O, OU, C, L, ST, emailAddress, serialNumber, ...) or dotted OIDs. Multi-valued RDNs
// ('+') are refused. Values are UTF-8; OpenSSL enforces each type's length (C: two letters).

#include <string_view>

#include "cli/admin/openssl_util.h"
#include "pkcs11/result.h"

namespace attache::cli::admin {

Result<X509NamePtr> parse_distinguished_name(std::string_view text);

}  // namespace attache::cli::admin
