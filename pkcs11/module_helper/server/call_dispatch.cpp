#include "pkcs11/module_helper/server/call_dispatch.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "pkcs11/module_helper/server/call_handlers.h"
#include "pkcs11/module_helper/wire/field_writer.h"

namespace attache::p11::module_helper {

std::optional<FrameBuffer> dispatch_call(CK_FUNCTION_LIST* module,
                                         std::span<std::uint8_t> payload) {
    auto header = read_frame_header(payload);
    if (!header)
        return std::nullopt;
    const auto call = static_cast<CallId>(header->call);
    FieldReader reader(payload);
    HandlerContext ctx{module, reader, call, header->call_id};
    std::optional<FrameBuffer> reply;
    if (known_call(header->call))
        reply = handle_call(ctx);
    if (!reply) {
        FieldWriter w(CallId::malformed, header->call_id);
        reply = w.finish();
    }
    return reply;
}

}  // namespace attache::p11::module_helper
