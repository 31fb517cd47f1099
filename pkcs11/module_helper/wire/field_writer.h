#pragma once

// Builds one frame: header, then typed fields (each a one-byte tag and its value). A field
// that cannot be encoded (a NULL pointer with a length, an input over its cap) marks the
// writer failed; the caller then answers without sending anything.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <span>

#include "pkcs11/module_helper/wire/frame_buffer.h"
#include "pkcs11/module_helper/wire/function_ids.h"

namespace attache::p11::module_helper {

enum class FieldTag : std::uint8_t { ulong = 1, bytes = 2, null = 3, list = 4, count = 5 };

class FieldWriter {
  public:
    FieldWriter(CallId call, std::uint32_t call_id = 0);

    void ulong(CK_ULONG value);
    // Bytes, or the null field for a NULL pointer (size must then be 0, else the writer fails).
    void bytes(const void* data, CK_ULONG size);
    void null();
    void list(std::span<const CK_ULONG> values);
    // A count of the entries that follow (templates).
    void count(size_t n);
    void fail() { failed_ = true; }
    bool failed() const { return failed_; }

    // Sets the call id in the header (the client numbers a request just before sending it).
    static void set_call_id(FrameBuffer& frame, std::uint32_t call_id);
    // The finished frame with its length prefix; nullopt if a field failed or it outgrew
    // kMaxFrame.
    std::optional<FrameBuffer> finish();

  private:
    void tag(FieldTag t);
    void u32(std::uint32_t v);
    void u64(std::uint64_t v);

    FrameBuffer frame_;
    bool failed_ = false;
};

}  // namespace attache::p11::module_helper
