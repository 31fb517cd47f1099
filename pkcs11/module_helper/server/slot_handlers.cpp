// Handlers of the module- and slot-level calls: info, slot and mechanism lists, token
// initialisation, slot events.

#include <cstring>

#include "pkcs11/module_helper/server/call_handlers.h"
#include "pkcs11/module_helper/wire/limits.h"

namespace attache::p11::module_helper {
namespace {

template <typename Info>
std::optional<FrameBuffer> reply_struct(HandlerContext& ctx, CK_RV rv, const Info& info) {
    FieldWriter w = ctx.reply(rv);
    if (rv == CKR_OK)
        w.bytes(&info, sizeof info);
    else
        w.null();
    return w.finish();
}

// A list call: (has_buffer, capacity) in; count and the list (when filled) out.
template <typename Call>
std::optional<FrameBuffer> reply_list(HandlerContext& ctx, bool has_buffer, CK_ULONG capacity,
                                      Call&& call) {
    std::vector<CK_ULONG> list(has_buffer ? std::min<size_t>(capacity, kMaxList) : 0);
    CK_ULONG count = static_cast<CK_ULONG>(list.size());
    const CK_RV rv = call(has_buffer ? list.data() : nullptr, &count);
    FieldWriter w = ctx.reply(rv);
    w.ulong(count);
    if (rv == CKR_OK && has_buffer && count <= list.size())
        w.list(std::span<const CK_ULONG>(list.data(), count));
    else
        w.null();
    return w.finish();
}

}  // namespace

std::optional<FrameBuffer> handle_C_GetInfo(HandlerContext& ctx) {
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_INFO info{};
    return reply_struct(ctx, ctx.module->C_GetInfo(&info), info);
}

std::optional<FrameBuffer> handle_C_GetSlotList(HandlerContext& ctx) {
    const CK_BBOOL present = ctx.in.ulong() != 0 ? CK_TRUE : CK_FALSE;
    const bool has_buffer = ctx.in.ulong() != 0;
    const CK_ULONG capacity = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return reply_list(ctx, has_buffer, capacity, [&](CK_SLOT_ID* list, CK_ULONG* count) {
        return ctx.module->C_GetSlotList(present, list, count);
    });
}

std::optional<FrameBuffer> handle_C_GetSlotInfo(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_SLOT_INFO info{};
    return reply_struct(ctx, ctx.module->C_GetSlotInfo(slot, &info), info);
}

std::optional<FrameBuffer> handle_C_GetTokenInfo(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_TOKEN_INFO info{};
    return reply_struct(ctx, ctx.module->C_GetTokenInfo(slot, &info), info);
}

std::optional<FrameBuffer> handle_C_GetMechanismList(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    const bool has_buffer = ctx.in.ulong() != 0;
    const CK_ULONG capacity = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return reply_list(ctx, has_buffer, capacity, [&](CK_MECHANISM_TYPE* list, CK_ULONG* count) {
        return ctx.module->C_GetMechanismList(slot, list, count);
    });
}

std::optional<FrameBuffer> handle_C_GetMechanismInfo(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    const CK_MECHANISM_TYPE type = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_MECHANISM_INFO info{};
    return reply_struct(ctx, ctx.module->C_GetMechanismInfo(slot, type, &info), info);
}

std::optional<FrameBuffer> handle_C_InitToken(HandlerContext& ctx) {
    const CK_SLOT_ID slot = ctx.in.ulong();
    auto pin = ctx.in.bytes();  // in the request frame, wiped with it
    auto label = ctx.in.bytes();
    if (!arguments_done(ctx) || !label || label->size() != 32)
        return std::nullopt;
    const CK_RV rv = ctx.module->C_InitToken(slot, pin ? pin->data() : nullptr,
                                             pin ? pin->size() : 0, label->data());
    return ctx.reply(rv).finish();
}

std::optional<FrameBuffer> handle_C_WaitForSlotEvent(HandlerContext& ctx) {
    const CK_FLAGS flags = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_SLOT_ID slot = 0;
    const CK_RV rv = ctx.module->C_WaitForSlotEvent(flags, &slot, nullptr);
    FieldWriter w = ctx.reply(rv);
    w.ulong(slot);
    return w.finish();
}

std::optional<FrameBuffer> handle_C_GenerateRandom(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    const CK_ULONG length = ctx.in.ulong();
    if (!arguments_done(ctx) || length > kMaxRandom)
        return std::nullopt;
    OutputRequest out;
    out.has_buffer = true;
    out.buffer.resize(length);
    out.length = length;
    const CK_RV rv = ctx.module->C_GenerateRandom(session, out.buffer.data(), length);
    FieldWriter w = ctx.reply(rv);
    write_output(w, rv, out);
    return w.finish();
}

}  // namespace attache::p11::module_helper
