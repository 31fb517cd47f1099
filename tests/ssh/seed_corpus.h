#pragma once

// The seed corpus of ssh_agent_fuzzer (tests/fuzz/corpus/ssh_agent/): byte streams as a
// client could send them, one file each. corpus_test.cpp checks the committed files against
// this list and rewrites them when ATTACHE_WRITE_SSH_CORPUS=1 is set.

#include <string>
#include <vector>

#include "pkcs11/bytes.h"

namespace attache::ssh::testing {

struct Seed {
    std::string name;  // file name
    Bytes bytes;
};

std::vector<Seed> seed_corpus();

}  // namespace attache::ssh::testing
