#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {
namespace {

uint32_t operation_bit(OperationKind kind) {
    switch (kind) {
        case OperationKind::sign:
            return protocol::kOpSign;
        case OperationKind::decrypt:
            return protocol::kOpDecrypt;
        case OperationKind::derive:
            return protocol::kOpDerive;
        default:
            return 0;
    }
}

const char* operation_noun(OperationKind kind) {
    switch (kind) {
        case OperationKind::sign:
            return "signing";
        case OperationKind::decrypt:
            return "decryption";
        case OperationKind::derive:
            return "key agreement";
        default:
            return "this operation";
    }
}

}  // namespace

Status check_key_policy(const Chain& chain) {
    const KeyRecord& key = *chain.match.key;
    if (!key.served) {
        return agent_error(ErrorCode::refused_by_policy,
                           "key " + key.id + " is not served: " + key.refusal);
    }
    if ((key.operations & operation_bit(chain.kind)) == 0) {
        return agent_error(ErrorCode::refused_by_policy,
                           "key " + key.id + " is not allowed for " + operation_noun(chain.kind) +
                               " (by its usage attributes or its certificate's key usage)");
    }
    return ok();
}

}  // namespace attache::agent
