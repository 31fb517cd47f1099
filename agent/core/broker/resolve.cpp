#include "agent/core/broker/steps.h"

namespace attache::agent {

Status resolve_key(Chain& chain, const TokenManager& tokens) {
    ATTACHE_TRY(chain.match, tokens.find_key(chain.reference));
    return ok();
}

Status resolve_token(Chain& chain, const TokenManager& tokens) {
    ATTACHE_TRY(chain.token, tokens.find_token(chain.reference));
    return ok();
}

}  // namespace attache::agent
