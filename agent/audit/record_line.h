#pragma once

// One audit record as one line of text: space-separated name=value fields in a fixed order,
// the last one always "mac=<64 hex digits>":
//
//   seq=7 chain=5e0c... time=2026-12-02T04:05:36.123Z type=op op=sign via=native key=3f2a
//   pid=42 uid=1000 exe=/usr/bin/ssh session=local result=ok mac=9b1d...
//
// A value is written bare when it is non-empty and only holds [A-Za-z0-9._:/@+,~-]; otherwise
// in double quotes, with \" \\ and \xHH (any byte outside printable ASCII) escaped. The MAC
// covers the line's bytes before " mac=" exactly as written, so the parser needs no canonical
// form: any changed byte changes the MAC. The parser reads untrusted files (`attache audit
// verify`): it is strict, bounded (kMaxLineBytes, kMaxFields) and refuses duplicate names, so
// that no two readers can see different values in one line.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::audit {

// Longest line written or read. Records hold paths (PATH_MAX is 4096) and short reasons; a
// longer line is damage, not a record.
inline constexpr size_t kMaxLineBytes = 64 * 1024;
// A record has about 20 fields.
inline constexpr size_t kMaxFields = 64;
// Values are cut to this length when written (a client names an SSH namespace, for one).
inline constexpr size_t kMaxValueBytes = 4096;
inline constexpr size_t kMacBytes = 32;  // HMAC-SHA256

using Fields = std::vector<std::pair<std::string, std::string>>;

// The line's text before " mac=" (what the MAC covers). Names must be [a-z0-9_]+.
std::string encode_body(const Fields& fields);
// body + " mac=" + hex(mac), without the newline.
std::string encode_line(std::string_view body, const Bytes& mac);

struct ParsedLine {
    Fields fields;          // without mac
    std::string_view body;  // into the parsed text: the bytes the MAC covers
    Bytes mac;              // kMacBytes

    // The value of a field, nullopt when absent.
    std::optional<std::string_view> get(std::string_view name) const;
};

// Parses one line (without its newline). The result's body points into `line`.
Result<ParsedLine> parse_line(std::string_view line);

// A decimal field without sign or leading zeros, at most 19 digits.
std::optional<unsigned long long> parse_seq(std::string_view text);

}  // namespace attache::audit
