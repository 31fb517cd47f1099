// libFuzzer target for what the SSH socket decides on before anything reaches a token: the
// classification of SIGN_REQUEST data, session-bind verification with a connection's binding
// rules, and ssh-add's key constraints. The first input byte picks the mode (modulo 3), the
// rest is its input:
//   0  string key blob, then the data to sign: classify_sign_data, sign_facts, sign_refusal;
//   1  session-binds (string host key, string session id, string signature, byte forwarding)
//      one after another into one ConnectionBinding, then the bytes left as sign data;
//   2  constraint bytes: decode_constraints, and its encoding is a fixpoint.
// Invariants are checked with FUZZ_CHECK (abort = finding).
//
// Built as a libFuzzer binary (ATTACHE_FUZZ=ON, clang) and as the replay test
// ssh_payload_corpus (tests/fuzz/replay_main.cpp) over tests/fuzz/corpus/ssh_payload.

#include <cstddef>
#include <cstdint>
#include <variant>

#include "agent/request/ssh_sign_rules.h"
#include "agent/ssh/connection_binding.h"
#include "agent/ssh/constraints.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/session_bind.h"
#include "agent/ssh/sign_facts.h"
#include "agent/ssh/sign_payload.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace attache;
using namespace attache::ssh;
using attache::fuzz::check;
using Payload = agent::SshFacts::Payload;

// A userauth payload encodes back to the very bytes it was classified from: the parser takes
// every field and allows no slack.
Bytes encode_userauth(const UserauthPayload& u, ByteView key_blob) {
    Writer w;
    w.string(u.session_id).u8(SSH_MSG_USERAUTH_REQUEST).string(u.user).string("ssh-connection");
    w.string(u.hostbound ? kMethodHostbound : kMethodPublickey).u8(1).string(u.algorithm);
    w.string(key_blob);
    if (u.hostbound)
        w.string(u.hostkey);
    return w.take();
}

void check_payload(const ConnectionBinding& binding, ByteView data, ByteView key_blob) {
    const SignPayload payload = classify_sign_data(data, key_blob);
    if (const auto* u = std::get_if<UserauthPayload>(&payload)) {
        const Bytes again = encode_userauth(*u, key_blob);
        check(ByteView(again).size() == data.size() &&
                  std::equal(again.begin(), again.end(), data.begin()),
              "userauth payload does not re-encode to its bytes");
        check(!u->session_id.empty(), "userauth with an empty session id");
        check(u->hostbound == !u->hostkey.empty(), "hostbound without a host key");
    } else if (const auto* s = std::get_if<SshsigPayload>(&payload)) {
        check(!s->name_space.empty(), "SSHSIG with an empty namespace");
        check(s->hash_algorithm == "sha256" || s->hash_algorithm == "sha512",
              "SSHSIG with another hash");
    } else {
        check(!std::get<OtherPayload>(payload).why.empty(), "other payload without a reason");
    }

    const agent::SshFacts facts = sign_facts(binding, payload, false);
    const auto refusal = agent::ssh_sign_refusal(facts, agent::SshSignRules{});
    check(facts.bound == binding.bound() && facts.bind_failed == binding.failed() &&
              facts.forwarded == binding.forwarded(),
          "facts differ from the binding");
    if (facts.payload == Payload::other || facts.bind_failed || facts.forwarded)
        check(refusal.has_value(), "sign allowed on other data, a failed bind or forwarded");
    if (facts.session_id_matches) {
        check(binding.last() != nullptr &&
                  std::get<UserauthPayload>(payload).session_id == binding.last()->session_id,
              "session id matches without the bound one");
    }
}

void fuzz_sign_data(ByteView input) {
    Reader r(input);
    auto key = r.string();
    const ByteView key_blob = key ? *key : ByteView();
    check_payload(ConnectionBinding{}, r.rest(), key_blob);
}

void check_key_blob(ByteView blob) {
    auto parsed = parse_public_key_blob(blob);
    if (!parsed)
        return;
    auto blob_again = public_key_blob(parsed->key.get());
    check(blob_again.has_value(), "a parsed key does not encode");
    auto reparsed = parse_public_key_blob(*blob_again);
    check(reparsed.has_value() && reparsed->type == parsed->type, "encoded key does not parse");
    if (parsed->type != KeyType::kRsa) {
        // Only RSA's mpints may carry leading zeros; the other blobs are canonical.
        check(*blob_again == Bytes(blob.begin(), blob.end()), "key blob is not canonical");
    }
}

void fuzz_session_binds(ByteView input) {
    Reader r(input);
    ConnectionBinding binding;
    bool was_failed = false;
    while (!r.at_end()) {
        Reader record = r;
        auto hostkey = record.string();
        auto sid = record.string();
        auto sig = record.string();
        auto fwd = record.u8();
        if (!hostkey || !sid || !sig || !fwd)
            break;
        r = record;
        check_key_blob(*hostkey);
        const SessionBind bind{Bytes(hostkey->begin(), hostkey->end()),
                               Bytes(sid->begin(), sid->end()), Bytes(sig->begin(), sig->end()),
                               *fwd != 0};
        const size_t before = binding.bindings().size();
        const bool recorded = static_cast<bool>(binding.bind(bind));
        if (recorded) {
            check(static_cast<bool>(verify_session_bind(bind)), "bind recorded unverified");
            check(binding.bindings().size() <= before + 1, "bind added more than one");
        } else {
            check(binding.failed(), "a refused bind did not mark the connection");
            check(binding.bindings().size() == before, "a refused bind was recorded");
        }
        check(!was_failed || binding.failed(), "a failed connection recovered");
        was_failed = binding.failed();
        check(binding.bindings().size() <= kMaxSessionBindings, "too many bindings");
        check(binding.bound() == !binding.bindings().empty(), "bound() disagrees");
    }
    const ByteView key_blob = binding.last() ? ByteView(binding.last()->hostkey) : ByteView();
    check_payload(binding, r.rest(), key_blob);
}

void fuzz_constraints(ByteView input) {
    auto decoded = decode_constraints(input);
    if (!decoded)
        return;
    const Bytes once = encode_constraints(*decoded);
    check(once.size() <= input.size(), "constraints grew when re-encoded");
    auto again = decode_constraints(once);
    check(again.has_value(), "encoded constraints do not decode");
    check(encode_constraints(*again) == once, "constraints do not round-trip");
    check(decoded->empty() == input.empty(), "constraints lost");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const ByteView input = ByteView(data, size).subspan(1);
    switch (data[0] % 3) {
        case 0:
            fuzz_sign_data(input);
            break;
        case 1:
            fuzz_session_binds(input);
            break;
        default:
            fuzz_constraints(input);
            break;
    }
    return 0;
}
