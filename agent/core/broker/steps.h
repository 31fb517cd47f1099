#pragma once

// The steps of the broker's chain, in the order Broker::perform runs them:
//   resolve_key -> check_holder -> check_key_policy -> check_channel -> apply_client_policy
//   -> check_session -> confirm_use -> check_before_pin -> unlock_on_use -> (the token)
//   -> (the audit record)
// Each is a function of the chain's state and the parts it needs, testable alone. A step that
// returns an error stops the chain: the error's code and message go to the client and the audit
// record names the step.

#include <functional>

#include "agent/core/broker/chain.h"
#include "agent/core/broker/remembered_uses.h"
#include "agent/core/card_holders.h"
#include "agent/core/token_manager.h"
#include "agent/core/user_prompt.h"
#include "agent/policy/policy.h"

namespace attache::agent {

// The key the client named (a key id or a PKCS#11 URI), among the tokens present — or the
// removed card that holds it (token_absent, "insert it").
Status resolve_key(Chain& chain, const TokenManager& tokens);

// The token an unlock or lock names (empty: the only token; in managed mode, the client's only
// card).
Status resolve_token(Chain& chain, const TokenManager& tokens, CardHolders* holders);

// Managed mode (holders not null): the card is the client's, by the signed manifest, and so is
// the key. A card served to no one that is unlocked is locked at once. No unlock through
// ssh.sock (ssh-add -X cannot verify its socket's server).
Status check_holder(Chain& chain, CardHolders* holders);

// Managed mode, a locked token: what the card must prove before a PIN is asked or sent for it
// (the card-auth challenge, CardHolders::check_before_pin). Refused: refused_by_policy, with
// the reason. An unlocked token, or personal mode: nothing to do.
Status check_before_pin(Chain& chain, CardHolders* holders);

// The key's own limits: served at all (never-extractable, generated on the card ...) and the
// operation allowed by its usage attributes and its certificate's key usage.
Status check_key_policy(const Chain& chain);

// What a channel may do at all. ssh.sock signs only SSH: a user authentication request of the
// connection's own bound session, or an SSHSIG blob of an allowed namespace; nothing on a
// connection whose session-bind failed.
Status check_channel(const Chain& chain, const Policy& policy);

// The admin's (and the user's) rules: allow, confirm or deny.
Status apply_client_policy(Chain& chain, const Policy& policy);

// Reads a process's start time (/proc/PID/stat field 22); 0 when it is gone.
using StartTimeProbe = std::function<uint64_t(pid_t)>;
uint64_t proc_start_time(pid_t pid);

// Before the user is asked anything on the client's behalf: the process that connected is
// still the one whose facts were read (not gone, its pid not reused).
Status check_session(const Chain& chain, const StartTimeProbe& start_time_of);

// A use the policy (or `ssh-add -c`) says to confirm: asks the user with the checked facts,
// unless a confirmation is remembered. No dialog available: refused.
Status confirm_use(Chain& chain, UserPrompt* prompt, RememberedUses& remembered);

// A locked token is unlocked through the PIN dialog when prompt_on_use is set (one dialog
// however many requests wait); the key record is then the one read after login.
Status unlock_on_use(Chain& chain, UserPrompt* prompt, bool prompt_on_use);

}  // namespace attache::agent
