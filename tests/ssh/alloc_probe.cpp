#include "tests/ssh/alloc_probe.h"

#include <cstdlib>
#include <new>

namespace {

thread_local bool g_active = false;
thread_local size_t g_largest = 0;
thread_local size_t g_total = 0;

void* allocate(size_t n) {
    if (g_active) {
        if (n > g_largest)
            g_largest = n;
        g_total += n;
    }
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr)
        throw std::bad_alloc();
    return p;
}

}  // namespace

void* operator new(size_t n) {
    return allocate(n);
}
void* operator new[](size_t n) {
    return allocate(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
    std::free(p);
}

namespace attache::ssh::testing {

AllocProbe::AllocProbe() {
    g_largest = 0;
    g_total = 0;
    g_active = true;
}

AllocProbe::~AllocProbe() {
    g_active = false;
}

size_t AllocProbe::largest() const {
    return g_largest;
}

size_t AllocProbe::total() const {
    return g_total;
}

}  // namespace attache::ssh::testing
