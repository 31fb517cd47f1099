#pragma once

// The byte layout of every native protocol message (the current version, 2), written down
// independently of the codec (an executable copy of the wire format), so tests can check encodings
// against it and find each field of an encoded message to corrupt it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace attache::protocol::layout {

enum class Kind {
    u8,
    u32,
    u64,
    boolean,         // u8, 0 or 1
    string,          // u32 length + bytes
    sign_scheme,     // u8, 1..5
    decrypt_scheme,  // u8, 1..2
    hash,            // u8, 0..4
    key_type,        // u8, 1..3
    error_code,      // u32, 1..16
    token_list,      // u32 count + TokenStatus entries
    key_list,        // u32 count + KeyEntry entries
    authority_list,  // u32 count + AuthorityCertificate entries (version 2)
    // u32 count + AuditLogRecord entries: u64 seq, string time, field_count, then that many
    // pairs of strings (name, value)
    audit_record_list,
    field_count,  // u32, at most kMaxAuditFields
};

struct Field {
    Kind kind;
    size_t offset;  // of the field's first byte in the body (for lists, of the count)
};

// The fields of a body (header excluded) in order, nested list entries flattened after their
// count; nullopt when the body does not follow the layout of its type byte exactly (unknown
// type, too short, bytes left over). Values are not range-checked.
std::optional<std::vector<Field>> request_fields(std::span<const uint8_t> body);
std::optional<std::vector<Field>> reply_fields(std::span<const uint8_t> body);

inline constexpr size_t kHeaderSize = 5;  // u8 type + u32 id

}  // namespace attache::protocol::layout
