#pragma once

// Watches heap allocations (global operator new, replaced in alloc_probe.cpp) made by this
// thread while a probe is alive, to prove that a lying length is never allocated.

#include <cstddef>

namespace attache::ssh::testing {

class AllocProbe {
  public:
    AllocProbe();
    ~AllocProbe();
    AllocProbe(const AllocProbe&) = delete;
    AllocProbe& operator=(const AllocProbe&) = delete;

    // The largest single allocation seen since construction.
    size_t largest() const;
    // The sum of all allocations seen since construction.
    size_t total() const;
};

}  // namespace attache::ssh::testing
