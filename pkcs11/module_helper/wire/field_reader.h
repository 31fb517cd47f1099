#pragma once

// Reads the typed fields of one frame's payload (after the header). Every read checks the tag
// and the remaining length; the first failure makes the reader failed for good, and every
// later read returns an empty value, so decoders check failed() (or finish()) once at the end.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pkcs11/module_helper/wire/field_writer.h"

namespace attache::p11::module_helper {

class FieldReader {
  public:
    // `payload` starts at the frame header, which is skipped.
    explicit FieldReader(std::span<std::uint8_t> payload);

    CK_ULONG ulong();
    // Bytes or null: nullopt for the null field. The span points into the frame.
    std::optional<std::span<std::uint8_t>> bytes();
    // At most `max` values.
    std::vector<CK_ULONG> list(size_t max);
    // A count of at most `max` entries.
    size_t count(size_t max);
    // Whether the next field is the null field (does not consume it).
    bool next_is_null() const;

    void fail() { failed_ = true; }
    bool failed() const { return failed_; }
    // True when nothing failed and every byte was read.
    bool finish() const { return !failed_ && pos_ == data_.size(); }

  private:
    bool take_tag(FieldTag t);
    std::uint32_t u32();
    std::uint64_t u64();

    std::span<std::uint8_t> data_;
    size_t pos_ = 0;
    bool failed_ = false;
};

}  // namespace attache::p11::module_helper
