#pragma once

// How a connection thread waits for its client's next request after answering one: a client in
// a loop (a TLS server signing handshakes, a benchmark) sends it within microseconds, and a
// thread that polls for it briefly instead of sleeping spares both sides a cross-CPU wake-up
// (see pkcs11/stream/reply_wait.h). It polls for at most kWindow, only when the client's
// last pause was that short, and only while fewer connection threads poll than the machine has
// cores to spare, so polling never takes a CPU that signing needs.

#include <chrono>

#include "pkcs11/stream/reply_wait.h"

namespace attache::agent {

class NextRequestWait {
  public:
    // Call once the reply was sent; returns when the next request may be read (it may still
    // have to be waited for, by the caller's ordinary blocking read).
    void before_read(int fd);
    // Call when the next request has been read.
    void after_read();

    static constexpr stream::Micros kWindow{100};

  private:
    using Clock = std::chrono::steady_clock;
    Clock::time_point replied_{};
    bool client_is_quick_ = false;
    bool contended_ = false;  // the last poll gave way to other tasks: the next wait sleeps
};

}  // namespace attache::agent
