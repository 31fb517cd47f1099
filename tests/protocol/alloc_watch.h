#pragma once

// Records the heap allocations (global operator new, replaced in alloc_watch.cpp) that the
// current thread makes while an AllocWatch is alive, to show that a hostile length prefix is
// refused before anything of that size is allocated.

#include <cstddef>

namespace attache::protocol::testing {

class AllocWatch {
  public:
    AllocWatch();
    ~AllocWatch();
    AllocWatch(const AllocWatch&) = delete;
    AllocWatch& operator=(const AllocWatch&) = delete;

    // The largest single allocation since construction.
    size_t largest() const;

  private:
    size_t* previous_;
    size_t largest_ = 0;
};

}  // namespace attache::protocol::testing
