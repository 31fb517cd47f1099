// Handlers of the object calls: create, destroy, attributes, search, key generation and
// derivation.

#include <algorithm>

#include "pkcs11/module_helper/server/call_handlers.h"
#include "pkcs11/module_helper/wire/limits.h"
#include "pkcs11/module_helper/wire/mechanism_codec.h"
#include "pkcs11/module_helper/wire/template_codec.h"

namespace attache::p11::module_helper {

std::optional<FrameBuffer> handle_C_CreateObject(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    DecodedTemplate tmpl;
    read_template(ctx.in, tmpl);
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    const CK_RV rv = ctx.module->C_CreateObject(session, tmpl.data(), tmpl.size(), &object);
    FieldWriter w = ctx.reply(rv);
    w.ulong(object);
    return w.finish();
}

std::optional<FrameBuffer> handle_C_DestroyObject(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    const CK_OBJECT_HANDLE object = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_DestroyObject(session, object)).finish();
}

// Per attribute in: type, has_buffer, capacity. Out: rv, count, then per attribute its
// ulValueLen and its value (bytes when the module filled it, else null). All buffers of one
// call share kMaxOutput; an attribute past that budget gets a smaller buffer and the module
// says CKR_BUFFER_TOO_SMALL for it, as it would for a small caller buffer.
std::optional<FrameBuffer> handle_C_GetAttributeValue(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    const CK_OBJECT_HANDLE object = ctx.in.ulong();
    const size_t n = ctx.in.count(kMaxAttributes);
    std::vector<CK_ATTRIBUTE> attrs(n);
    std::vector<OutputRequest> buffers(n);
    size_t budget = kMaxOutput;
    for (size_t i = 0; i < n && !ctx.in.failed(); ++i) {
        attrs[i].type = ctx.in.ulong();
        buffers[i] = read_output_request(ctx.in, budget);
        budget -= buffers[i].buffer.size();
        attrs[i].pValue = buffers[i].has_buffer ? buffers[i].buffer.data() : nullptr;
        attrs[i].ulValueLen = buffers[i].length;
        if (buffers[i].has_buffer && buffers[i].buffer.empty()) {
            static std::uint8_t empty = 0;
            attrs[i].pValue = &empty;
        }
    }
    if (!arguments_done(ctx))
        return std::nullopt;
    const CK_RV rv = ctx.module->C_GetAttributeValue(
        session, object, attrs.empty() ? nullptr : attrs.data(), static_cast<CK_ULONG>(n));
    FieldWriter w = ctx.reply(rv);
    w.count(n);
    for (size_t i = 0; i < n; ++i) {
        const CK_ULONG len = attrs[i].ulValueLen;
        w.ulong(len);
        if (buffers[i].has_buffer && len != CK_UNAVAILABLE_INFORMATION &&
            len <= buffers[i].buffer.size())
            w.bytes(buffers[i].buffer.data(), len);
        else
            w.null();
    }
    return w.finish();
}

std::optional<FrameBuffer> handle_C_SetAttributeValue(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    const CK_OBJECT_HANDLE object = ctx.in.ulong();
    DecodedTemplate tmpl;
    read_template(ctx.in, tmpl);
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_SetAttributeValue(session, object, tmpl.data(), tmpl.size()))
        .finish();
}

std::optional<FrameBuffer> handle_C_FindObjectsInit(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    DecodedTemplate tmpl;
    read_template(ctx.in, tmpl);
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_FindObjectsInit(session, tmpl.data(), tmpl.size())).finish();
}

std::optional<FrameBuffer> handle_C_FindObjects(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    const CK_ULONG max = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    std::vector<CK_OBJECT_HANDLE> found(std::max<size_t>(1, std::min<size_t>(max, kMaxList)));
    CK_ULONG count = 0;
    const CK_RV rv = ctx.module->C_FindObjects(session, found.data(),
                                               std::min<CK_ULONG>(max, found.size()), &count);
    FieldWriter w = ctx.reply(rv);
    if (rv == CKR_OK && count <= std::min<CK_ULONG>(max, found.size()))
        w.list(std::span<const CK_ULONG>(found.data(), count));
    else
        w.list({});
    return w.finish();
}

std::optional<FrameBuffer> handle_C_FindObjectsFinal(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    if (!arguments_done(ctx))
        return std::nullopt;
    return ctx.reply(ctx.module->C_FindObjectsFinal(session)).finish();
}

std::optional<FrameBuffer> handle_C_GenerateKeyPair(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    DecodedMechanism mechanism;
    read_mechanism(ctx.in, mechanism);
    DecodedTemplate public_template, private_template;
    read_template(ctx.in, public_template);
    read_template(ctx.in, private_template);
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE, private_key = CK_INVALID_HANDLE;
    const CK_RV rv = ctx.module->C_GenerateKeyPair(
        session, &mechanism.mechanism, public_template.data(), public_template.size(),
        private_template.data(), private_template.size(), &public_key, &private_key);
    FieldWriter w = ctx.reply(rv);
    w.ulong(public_key);
    w.ulong(private_key);
    return w.finish();
}

std::optional<FrameBuffer> handle_C_DeriveKey(HandlerContext& ctx) {
    const CK_SESSION_HANDLE session = ctx.in.ulong();
    DecodedMechanism mechanism;
    read_mechanism(ctx.in, mechanism);
    const CK_OBJECT_HANDLE base = ctx.in.ulong();
    DecodedTemplate tmpl;
    read_template(ctx.in, tmpl);
    if (!arguments_done(ctx))
        return std::nullopt;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    const CK_RV rv = ctx.module->C_DeriveKey(session, &mechanism.mechanism, base, tmpl.data(),
                                             tmpl.size(), &key);
    FieldWriter w = ctx.reply(rv);
    w.ulong(key);
    return w.finish();
}

}  // namespace attache::p11::module_helper
