#include "pkcs11/forwarding/fd_registry.h"

#include <unistd.h>

#include <atomic>

namespace attache::forwarding {
namespace {

// fd + 1; 0 is an empty entry. Zero-initialised, trivially destructible.
std::atomic<int> g_entries[kMaxConnections];

}  // namespace

int register_fd(int fd) {
    for (int i = 0; i < kMaxConnections; ++i) {
        int expected = 0;
        if (g_entries[i].compare_exchange_strong(expected, fd + 1))
            return i;
    }
    return -1;
}

void unregister_fd(int entry) {
    if (entry >= 0 && entry < kMaxConnections)
        g_entries[entry].store(0);
}

void close_registered_fds_in_child() {
    for (auto& e : g_entries) {
        const int v = e.exchange(0);
        if (v > 0)
            ::close(v - 1);
    }
}

}  // namespace attache::forwarding
