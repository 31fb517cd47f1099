#pragma once

// The helper's threads, as leader and followers: one thread at a time reads the agent's socket;
// the thread that read a call hands the reading to an idle thread (or starts one) and makes the
// call itself, then writes its reply. A call so costs one wake-up in the helper, and a C_Sign
// hung on one session does not hold up a C_GetSlotList on another. At most `max_in_flight`
// calls run at once; a call beyond that is answered CallId::busy at once by the thread that
// read it (the agent answers CKR_FUNCTION_FAILED). Threads are kept when idle; they live as
// long as the helper, which ends with _exit.

#include <p11-kit/pkcs11.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "pkcs11/module_helper/wire/frame_buffer.h"

namespace attache::p11::module_helper {

class CallServer {
  public:
    static constexpr std::chrono::microseconds kNextCallWindow{100};

    CallServer(int socket_fd, CK_FUNCTION_LIST* module, size_t max_in_flight)
        : fd_(socket_fd), module_(module), max_in_flight_(max_in_flight) {}
    CallServer(const CallServer&) = delete;
    CallServer& operator=(const CallServer&) = delete;

    // Serves on the calling thread and as many more as calls are in flight, until the agent
    // closes the socket. Returns how many calls are then still running.
    size_t serve();

  private:
    void serve_as_thread();
    void make_call(FrameBuffer payload);
    void answer_busy(const FrameBuffer& payload);

    const int fd_;
    CK_FUNCTION_LIST* const module_;
    const size_t max_in_flight_;

    std::mutex mutex_;
    std::condition_variable reader_free_;
    bool reading_ = false;  // a thread is reading the socket
    bool ended_ = false;    // the socket is closed (or broken): no more calls
    size_t waiting_ = 0;    // threads waiting to read
    size_t busy_ = 0;       // calls being made
    // When the last reply was written, and whether the agent's next call came within
    // kNextCallWindow of the reply before (a busy agent's next request, a PIV signature's C_Login
    // and C_Sign after its C_SignInit): then the reader polls for it that long instead of
    // sleeping (stream::spin_until_readable), sparing a cross-CPU wake-up, unless polling was
    // contended last time.
    std::chrono::steady_clock::time_point replied_{};
    bool agent_is_quick_ = false;
    bool contended_ = false;

    std::mutex write_mutex_;
};

}  // namespace attache::p11::module_helper
