// Handlers of the session-level calls: open and close, session info, login, logout, PINs.
// PINs are read in place from the request frame, which is wiped when the call is done.

#include "pkcs11/module_helper/server/call_handlers.h"

namespace attache::p11::module_helper {
namespace {

CK_UTF8CHAR_PTR pin_data(const std::optional<std::span<std::uint8_t>>& pin) {
    return pin ? pin->data() : nullptr;
}
CK_ULONG pin_size(const std::optional<std::span<std::uint8_t>>& pin) {
    return pin ? static_cast<CK_ULONG>(pin->size()) : 0;
}

}  // namespace

std::optional<FrameBuffer> handle_C_InitPIN(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    auto pin = ctx.in.bytes();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_InitPIN(session, pin_data(pin), pin_size(pin))).finish();
}

std::optional<FrameBuffer> handle_C_SetPIN(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    auto old_pin = ctx.in.bytes();
    auto new_pin = ctx.in.bytes();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx
        .reply(ctx.module->C_SetPIN(session, pin_data(old_pin), pin_size(old_pin),
                                    pin_data(new_pin), pin_size(new_pin)))
        .finish();
}

std::optional<FrameBuffer> handle_C_OpenSession(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    const CK_FLAGS flags = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    const CK_RV rv = ctx.module->C_OpenSession(slot, flags, nullptr, nullptr, &session);
    FieldWriter w = ctx.reply(rv);
    w.ulong(session);
    return w.finish();
}

std::optional<FrameBuffer> handle_C_CloseSession(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_CloseSession(session)).finish();
}

std::optional<FrameBuffer> handle_C_CloseAllSessions(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_CloseAllSessions(slot)).finish();
}

std::optional<FrameBuffer> handle_C_GetSessionInfo(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_SESSION_INFO info{};
    const CK_RV rv = ctx.module->C_GetSessionInfo(session, &info);
    FieldWriter w = ctx.reply(rv);
    if (rv == CKR_OK)
        w.bytes(&info, sizeof info);
    else
        w.null();
    return w.finish();
}

std::optional<FrameBuffer> handle_C_Login(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    const CK_USER_TYPE user = ctx.in.ulong();
    auto pin = ctx.in.bytes();  // null: the PIN pad
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_Login(session, user, pin_data(pin), pin_size(pin))).finish();
}

std::optional<FrameBuffer> handle_C_Logout(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_Logout(session)).finish();
}

}  // namespace attache::p11::module_helper
