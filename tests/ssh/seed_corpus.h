#pragma once

// The seed corpora of ssh_agent_fuzzer (tests/fuzz/corpus/ssh_agent/: byte streams as a client
// could send them) and ssh_payload_fuzzer (tests/fuzz/corpus/ssh_payload/: a mode byte and its
// input, see ssh_payload_fuzzer.cpp), one file each. corpus_test.cpp checks the committed files
// against these lists and rewrites them when ATTACHE_WRITE_SSH_CORPUS=1 is set.

#include <string>
#include <vector>

#include "agent/ssh/wire.h"
#include "pkcs11/bytes.h"

namespace attache::ssh::testing {

struct Seed {
    std::string name;  // file name
    Bytes bytes;
};

std::vector<Seed> seed_corpus();
std::vector<Seed> payload_seed_corpus();

// The constraint bytes that OpenSSH 9.2's `ssh-add -H known_hosts -h localhost -s MODULE` sends
// (captured from the real tool): one restrict-destination-v00@openssh.com constraint to
// "localhost" with one Ed25519 host key.
Bytes ssh_add_destination_constraints();

// A deterministic Ed25519 host key (a fixed private seed) and its session-bind of session_id:
// a bind that verifies, for seeds and tests.
Bytes seed_host_key_blob();
Bytes seed_host_signature(ByteView session_id);

}  // namespace attache::ssh::testing
