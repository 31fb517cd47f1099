#include "agent/ssh/sign_facts.h"

#include "agent/ssh/keys.h"

namespace attache::ssh {
namespace {

using Payload = agent::SshFacts::Payload;

bool userauth_matches(const ConnectionBinding& binding, const UserauthPayload& u) {
    const Binding* last = binding.last();
    if (last == nullptr || u.session_id != last->session_id)
        return false;
    if (u.hostbound)
        return u.hostkey == last->hostkey;
    return binding.bindings().size() == 1;
}

}  // namespace

agent::SshFacts sign_facts(const ConnectionBinding& binding, const SignPayload& payload,
                           bool confirm_constraint) {
    agent::SshFacts facts;
    facts.bound = binding.bound();
    facts.bind_failed = binding.failed();
    facts.forwarded = binding.forwarded();
    facts.destination = binding.destination();
    facts.confirm_constraint = confirm_constraint;
    if (const auto* u = std::get_if<UserauthPayload>(&payload)) {
        facts.payload = Payload::userauth;
        facts.session_id_matches = userauth_matches(binding, *u);
    } else if (const auto* s = std::get_if<SshsigPayload>(&payload)) {
        facts.payload = Payload::sshsig;
        facts.sshsig_namespace = s->name_space;
    } else {
        facts.payload = Payload::other;
    }
    return facts;
}

}  // namespace attache::ssh
