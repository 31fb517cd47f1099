// Handlers of the single-part cryptographic calls and their Init calls. Outputs follow
// PKCS#11's size-query convention exactly: a NULL buffer (has_buffer 0) asks the length only
// and leaves the operation active; a small buffer gives CKR_BUFFER_TOO_SMALL and the length.
// The combined calls (SignInitAndSign, DecryptInitAndDecrypt) make exactly the two calls the
// client would have made, the second only when the first returned CKR_OK, and say whose rv the
// reply carries; an operation a size query or CKR_BUFFER_TOO_SMALL left active stays active.

#include "pkcs11/module_helper/server/call_handlers.h"
#include "pkcs11/module_helper/wire/limits.h"
#include "pkcs11/module_helper/wire/mechanism_codec.h"

namespace attache::p11::module_helper {
namespace {

using InitFn = CK_RV (*)(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
using OneShotFn = CK_RV (*)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);

std::optional<FrameBuffer> init_call(HandlerContext& ctx, InitFn fn) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    DecodedMechanism mechanism;
    read_mechanism(ctx.in, mechanism);
    const CK_OBJECT_HANDLE key = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(fn(session, &mechanism.mechanism, key)).finish();
}

std::optional<FrameBuffer> one_shot_call(HandlerContext& ctx, OneShotFn fn) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    auto input = ctx.in.bytes();
    OutputRequest out = read_output_request(ctx.in, kMaxOutput);
    if (!arguments_done(ctx))
        return std::nullopt;
    const CK_RV rv = fn(session, input ? input->data() : nullptr,
                        input ? static_cast<CK_ULONG>(input->size()) : 0, out.data(), &out.length);
    FieldWriter w = ctx.reply(rv);
    write_output(w, rv, out);
    return w.finish();
}

std::optional<FrameBuffer> init_and_one_shot_call(HandlerContext& ctx, InitFn init, OneShotFn fn) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    DecodedMechanism mechanism;
    read_mechanism(ctx.in, mechanism);
    const CK_OBJECT_HANDLE key = ctx.in.ulong();
    auto input = ctx.in.bytes();
    OutputRequest out = read_output_request(ctx.in, kMaxOutput);
    if (!arguments_done(ctx))
        return std::nullopt;
    if (const CK_RV rv = init(session, &mechanism.mechanism, key); rv != CKR_OK) {
        FieldWriter w = ctx.reply(rv);
        w.ulong(static_cast<CK_ULONG>(CallStage::init));
        return w.finish();
    }
    const CK_RV rv = fn(session, input ? input->data() : nullptr,
                        input ? static_cast<CK_ULONG>(input->size()) : 0, out.data(), &out.length);
    FieldWriter w = ctx.reply(rv);
    w.ulong(static_cast<CK_ULONG>(CallStage::operation));
    write_output(w, rv, out);
    return w.finish();
}

}  // namespace

std::optional<FrameBuffer> handle_SignInitAndSign(HandlerContext& ctx) {
    return init_and_one_shot_call(ctx, ctx.module->C_SignInit, ctx.module->C_Sign);
}
std::optional<FrameBuffer> handle_DecryptInitAndDecrypt(HandlerContext& ctx) {
    return init_and_one_shot_call(ctx, ctx.module->C_DecryptInit, ctx.module->C_Decrypt);
}
std::optional<FrameBuffer> handle_C_SignInit(HandlerContext& ctx) {
    return init_call(ctx, ctx.module->C_SignInit);
}
std::optional<FrameBuffer> handle_C_Sign(HandlerContext& ctx) {
    return one_shot_call(ctx, ctx.module->C_Sign);
}
std::optional<FrameBuffer> handle_C_VerifyInit(HandlerContext& ctx) {
    return init_call(ctx, ctx.module->C_VerifyInit);
}
std::optional<FrameBuffer> handle_C_DecryptInit(HandlerContext& ctx) {
    return init_call(ctx, ctx.module->C_DecryptInit);
}
std::optional<FrameBuffer> handle_C_Decrypt(HandlerContext& ctx) {
    return one_shot_call(ctx, ctx.module->C_Decrypt);
}
std::optional<FrameBuffer> handle_C_EncryptInit(HandlerContext& ctx) {
    return init_call(ctx, ctx.module->C_EncryptInit);
}
std::optional<FrameBuffer> handle_C_Encrypt(HandlerContext& ctx) {
    return one_shot_call(ctx, ctx.module->C_Encrypt);
}

std::optional<FrameBuffer> handle_C_Verify(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    auto data = ctx.in.bytes();
    auto signature = ctx.in.bytes();
    if (!arguments_done(ctx))
        return std::nullopt;
    const CK_RV rv = ctx.module->C_Verify(session, data ? data->data() : nullptr,
                                          data ? static_cast<CK_ULONG>(data->size()) : 0,
                                          signature ? signature->data() : nullptr,
                                          signature ? static_cast<CK_ULONG>(signature->size()) : 0);
    return ctx.reply(rv).finish();
}

}  // namespace attache::p11::module_helper
