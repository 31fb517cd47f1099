#include "tests/protocol/alloc_watch.h"

#include <cstdlib>
#include <new>

namespace attache::protocol::testing {
namespace {

// The innermost live watch of this thread; null when none.
thread_local size_t* t_largest = nullptr;

}  // namespace

AllocWatch::AllocWatch() : previous_(t_largest) {
    t_largest = &largest_;
}

AllocWatch::~AllocWatch() {
    t_largest = previous_;
}

size_t AllocWatch::largest() const {
    return largest_;
}

}  // namespace attache::protocol::testing

void* operator new(std::size_t size) {
    using attache::protocol::testing::t_largest;
    if (t_largest != nullptr && size > *t_largest)
        *t_largest = size;
    if (void* p = std::malloc(size == 0 ? 1 : size))
        return p;
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept {
    std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
