#pragma once

// A fuzz target's invariant check: on failure, names the invariant and aborts, which libFuzzer
// reports as a crash (with the input saved) and the replay test as a failed test.

#include <cstdio>
#include <cstdlib>

namespace attache::fuzz {

inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
        std::abort();
    }
}

}  // namespace attache::fuzz
