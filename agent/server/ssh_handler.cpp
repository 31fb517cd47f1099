#include "agent/server/ssh_handler.h"

#include <openssl/crypto.h>

#include "agent/core/log.h"
#include "agent/server/native_handler.h"
#include "agent/server/next_request_wait.h"
#include "agent/ssh/messages.h"
#include "pkcs11/agent_protocol/stream_io.h"

namespace attache::agent {

void SshHandler::serve(int fd, const ClientFacts& client) {
    SshSession session(shared_, client);
    NextRequestWait next;
    DeferredAudit audit_records;  // written once each reply is sent
    for (;;) {
        auto body = stream::read_frame(fd, -1, kFrameTimeoutMs);
        if (!body)
            return;  // closed, oversize or zero-length frame, timeout
        next.after_read();
        auto request = ssh::decode_request(*body);
        OPENSSL_cleanse(body->data(), body->size());  // may hold a PIN or passphrase
        Bytes reply = request ? session.handle(*request) : ssh::encode_failure();
        if (!stream::write_all(fd, reply))
            return;
        audit_records.flush();
        next.before_read(fd);
    }
}

}  // namespace attache::agent
