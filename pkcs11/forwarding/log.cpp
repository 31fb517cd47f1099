#include "pkcs11/forwarding/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace attache::forwarding {
namespace {

std::atomic<bool> g_debug{false};

void write_line(const std::string& message) {
    // One write per line so that lines of concurrent threads do not interleave.
    std::string line = "attache-pkcs11[" + std::to_string(getpid()) + "]: " + message + "\n";
    size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
        if (n <= 0)
            return;
        done += static_cast<size_t>(n);
    }
}

}  // namespace

void set_debug(bool on) {
    g_debug = on;
}

bool debug_enabled() {
    return g_debug.load(std::memory_order_relaxed);
}

void debug(const std::string& message) {
    if (debug_enabled())
        write_line(message);
}

void notice(const std::string& message) {
    write_line(message);
}

}  // namespace attache::forwarding
