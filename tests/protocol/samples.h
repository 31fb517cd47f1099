#pragma once

// Sample messages of Attache's native protocol, one or more of every request and reply type,
// with non-default values in every field. Shared by protocol_test and the seed corpus
// generator of the native fuzzers (tests/fuzz/native_seed_corpus.cpp).

#include <cstdint>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/messages.h"

namespace attache::protocol::samples {

struct RequestSample {
    std::string name;  // short, file-name safe: "sign-rsa-pss"
    uint32_t id = 0;
    Request request;
};

struct ReplySample {
    std::string name;
    uint32_t id = 0;
    Reply reply;
};

// Fresh objects on every call (UnlockRequest holds a move-only Secret).
std::vector<RequestSample> requests();
std::vector<ReplySample> replies();

// Every field of a message as text (bytes and PINs in hex), for comparing two messages field by
// field with a readable difference. Two messages are equal when their descriptions are.
std::string describe(const Request& request);
std::string describe(const Reply& reply);

// A frame body: the encoding without its u32 length prefix.
Bytes request_body(uint32_t id, const Request& request);
Bytes reply_body(uint32_t id, const Reply& reply);

}  // namespace attache::protocol::samples
