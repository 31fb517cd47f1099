#pragma once

// One handler per call the helper serves (call_handlers_*.cpp): read the arguments, call the
// module, write rv and the outputs. nullopt means the request was malformed.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "pkcs11/module_helper/wire/field_reader.h"
#include "pkcs11/module_helper/wire/field_writer.h"

namespace attache::p11::module_helper {

struct HandlerContext {
    CK_FUNCTION_LIST* module;
    FieldReader& in;
    CallId call;
    std::uint32_t call_id;

    FieldWriter reply(CK_RV rv) const {
        FieldWriter w(call, call_id);
        w.ulong(rv);
        return w;
    }
};

// An output buffer the caller offered: whether it had one (else the call is a size query) and
// how large, capped.
struct OutputRequest {
    OutputRequest() = default;
    OutputRequest(OutputRequest&&) = default;
    OutputRequest& operator=(OutputRequest&&) = default;
    ~OutputRequest();

    bool has_buffer = false;
    std::vector<std::uint8_t> buffer;  // wiped by the handler when it held secrets
    CK_ULONG length = 0;               // in/out length passed to the module

    CK_BYTE_PTR data() { return has_buffer ? buffer.data() : nullptr; }
};
OutputRequest read_output_request(FieldReader& in, size_t cap);
// Writes the length, and the bytes when the call succeeded with a buffer.
void write_output(FieldWriter& w, CK_RV rv, const OutputRequest& out);

// Reads the end of the arguments: true when they decoded and nothing is left over.
inline bool arguments_done(HandlerContext& ctx) {
    return ctx.in.finish();
}

#define ATTACHE_HELPER_CALLS(X) \
    X(C_GetInfo)                \
    X(C_GetSlotList)            \
    X(C_GetSlotInfo)            \
    X(C_GetTokenInfo)           \
    X(C_GetMechanismList)       \
    X(C_GetMechanismInfo)       \
    X(C_InitToken)              \
    X(C_InitPIN)                \
    X(C_SetPIN)                 \
    X(C_OpenSession)            \
    X(C_CloseSession)           \
    X(C_CloseAllSessions)       \
    X(C_GetSessionInfo)         \
    X(C_Login)                  \
    X(C_Logout)                 \
    X(C_CreateObject)           \
    X(C_DestroyObject)          \
    X(C_GetAttributeValue)      \
    X(C_SetAttributeValue)      \
    X(C_FindObjectsInit)        \
    X(C_FindObjects)            \
    X(C_FindObjectsFinal)       \
    X(C_SignInit)               \
    X(C_Sign)                   \
    X(C_VerifyInit)             \
    X(C_Verify)                 \
    X(C_DecryptInit)            \
    X(C_Decrypt)                \
    X(C_EncryptInit)            \
    X(C_Encrypt)                \
    X(C_GenerateKeyPair)        \
    X(C_DeriveKey)              \
    X(C_GenerateRandom)         \
    X(C_WaitForSlotEvent)       \
    X(SignInitAndSign)          \
    X(DecryptInitAndDecrypt)

#define ATTACHE_DECLARE_HANDLER(name) std::optional<FrameBuffer> handle_##name(HandlerContext& ctx);
ATTACHE_HELPER_CALLS(ATTACHE_DECLARE_HANDLER)
#undef ATTACHE_DECLARE_HANDLER

// The handler of ctx.call; nullopt for a malformed request or a call without a handler.
std::optional<FrameBuffer> handle_call(HandlerContext& ctx);

}  // namespace attache::p11::module_helper
