#include "pkcs11/module_helper/server/call_handlers.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace attache::p11::module_helper {

OutputRequest read_output_request(FieldReader& in, size_t cap) {
    OutputRequest out;
    out.has_buffer = in.ulong() != 0;
    const CK_ULONG capacity = in.ulong();
    if (out.has_buffer) {
        out.buffer.resize(std::min<size_t>(capacity, cap));
        out.length = static_cast<CK_ULONG>(out.buffer.size());
    }
    return out;
}

void write_output(FieldWriter& w, CK_RV rv, const OutputRequest& out) {
    if (rv == CKR_OK && out.has_buffer && out.length > out.buffer.size()) {
        // The module wrote past what it was offered, or claims to: send nothing of it.
        w.ulong(0);
        w.null();
        return;
    }
    w.ulong(out.length);
    if (rv == CKR_OK && out.has_buffer)
        w.bytes(out.buffer.data(), out.length);
    else
        w.null();
}

OutputRequest::~OutputRequest() {
    if (!buffer.empty())
        OPENSSL_cleanse(buffer.data(), buffer.size());
}

std::optional<FrameBuffer> handle_call(HandlerContext& ctx) {
    switch (ctx.call) {
#define ATTACHE_CASE(name) \
    case CallId::name:     \
        return handle_##name(ctx);
        ATTACHE_HELPER_CALLS(ATTACHE_CASE)
#undef ATTACHE_CASE
        default:
            return std::nullopt;
    }
}

}  // namespace attache::p11::module_helper
