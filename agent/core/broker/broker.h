#pragma once

// The one path to a key. Every operation a front end (the native protocol, the SSH agent
// protocol) receives becomes Broker::perform(Operation, Context), which runs the chain of
// steps.h for it and writes one audit record however it ends:
//   sign / decrypt / derive: resolve_key -> check_holder -> check_key_policy -> check_channel ->
//       apply_client_policy -> check_session -> confirm_use -> check_before_pin ->
//       unlock_on_use -> token
//   unlock: resolve_token -> check_holder -> apply_client_policy -> check_session ->
//       check_before_pin -> token
//       (the final try confirmed by the user in a dialog, never by a client's flag)
//   lock:   (resolve_token -> check_holder) -> apply_client_policy -> token(s)
//   list:   apply_client_policy -> the keys of the present tokens (managed mode: of the
//       client's cards, and only the keys the card manifest lists)
// The parts with side effects are injected: the tokens, the policy, the audit sink and the
// user prompt (PIN and confirmation dialogs; null: the agent never asks).

#include <memory>
#include <vector>

#include "agent/core/broker/audit_sink.h"
#include "agent/core/broker/remembered_uses.h"
#include "agent/core/broker/steps.h"
#include "agent/core/operation.h"
#include "agent/core/token_manager.h"
#include "agent/core/user_prompt.h"
#include "agent/policy/policy.h"

namespace attache::agent {

struct BrokerParts {
    TokenManager& tokens;
    std::shared_ptr<const Policy> policy;
    AuditSink& audit;
    std::shared_ptr<UserPrompt> prompt;  // null: never prompts
    // A locked token is unlocked through the PIN dialog when a key on it is used.
    bool prompt_on_use = true;
    StartTimeProbe start_time_of = proc_start_time;
    // Managed mode: the card manifest's holders; null (personal mode): every token is the
    // user's.
    std::shared_ptr<CardHolders> holders;
};

class Broker {
  public:
    explicit Broker(BrokerParts parts);

    Performed perform(Operation operation, const Context& context);

    // Not key operations, outside the chain: what `status` shows (in managed mode, of the
    // client's own cards), random bytes.
    std::vector<TokenState> token_states(const Context& context) const;
    Result<Bytes> random(size_t size);

    TokenManager& tokens() { return parts_.tokens; }
    bool can_prompt() const { return parts_.prompt != nullptr; }

  private:
    Performed key_operation(Operation& operation, const Context& context);
    Performed unlock(UnlockOperation& operation, const Context& context);
    Performed lock(const LockOperation& operation, const Context& context);
    Performed list(const Context& context);
    bool serves(const Token& token, const Context& context) const;
    Result<UnlockResult> unlock_token(Chain& chain, UnlockOperation& operation);

    // Fills the audit record of a finished chain and hands it to the sink.
    void audit(const Chain& chain, const Performed& performed, const std::string& step,
               const std::string& ok_result = "ok");

    BrokerParts parts_;
    RememberedUses remembered_;
};

}  // namespace attache::agent
