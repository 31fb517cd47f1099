#include "agent/server/native_handler.h"

#include <openssl/crypto.h>

#include "agent/core/log.h"
#include "agent/server/next_request_wait.h"
#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"

namespace attache::agent {
namespace {

using namespace protocol;

uint32_t header_id(const Bytes& body) {
    if (body.size() < 5)
        return 0;
    return (uint32_t{body[1]} << 24) | (uint32_t{body[2]} << 16) | (uint32_t{body[3]} << 8) |
           uint32_t{body[4]};
}

bool might_carry_pin(uint8_t type) {
    return type == static_cast<uint8_t>(MessageType::unlock) ||
           type == static_cast<uint8_t>(MessageType::sign) ||
           type == static_cast<uint8_t>(MessageType::decrypt);
}

bool carries_secret(const Reply& reply) {
    return std::holds_alternative<DecryptReply>(reply) ||
           std::holds_alternative<DeriveReply>(reply);
}

}  // namespace

void NativeHandler::serve(int fd, const ClientFacts& client) {
    NativeConnection connection;
    NextRequestWait next;
    DeferredAudit audit_records;  // written once each reply is sent
    for (;;) {
        auto body = stream::read_frame(fd, -1, kFrameTimeoutMs);
        if (!body) {
            if (!stream::is_closed(body.error())) {
                log_warning("client pid " + std::to_string(client.pid) + ": " +
                            body.error().message() + "; closing the connection");
            }
            return;
        }
        next.after_read();
        auto frame = decode_request(*body, connection.version);
        uint32_t id = header_id(*body);
        // It may have held a PIN (unlock; sign or decrypt with a context PIN), decoded or not.
        if (!body->empty() && might_carry_pin((*body)[0]))
            OPENSSL_cleanse(body->data(), body->size());
        Reply reply;
        if (!frame) {
            reply = ErrorReply{ErrorCode::bad_request, 0, 0, frame.error().message()};
        } else {
            id = frame->id;
            reply = frontend_.handle(frame->request, client, connection);
        }
        Bytes out = encode_reply(id, reply, connection.version);
        if (out.size() > kMaxMessageSize + 4) {
            OPENSSL_cleanse(out.data(), out.size());
            out = encode_reply(
                id,
                ErrorReply{ErrorCode::busy, 0, 0, "the reply would exceed the message size limit"},
                connection.version);
        }
        Status sent = stream::write_all(fd, out);
        if (carries_secret(reply))
            OPENSSL_cleanse(out.data(), out.size());
        if (!sent)
            return;
        audit_records.flush();
        next.before_read(fd);
    }
}

}  // namespace attache::agent
