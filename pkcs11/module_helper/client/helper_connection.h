#pragma once

// One running helper: its socket, its process (a pidfd), the calls in flight, and the thread
// that watches them. Calls from many threads share the socket, each numbered by a call id. The
// callers read the replies themselves, one at a time: the caller whose turn it is reads the
// socket and hands each reply it finds to its caller, until its own has come; then the next
// waiting caller reads. A call so costs at most one wake-up in the agent (its own thread, when
// its reply arrives), and none when the reply comes while the caller polls for it: a lone timed
// call whose kind was quick before waits in two stages (stream::wait_until_due). The watching
// thread kills the helper (SIGKILL) when a timed call overruns the call timeout, and sees the
// helper stop (pidfd, the socket hung up) at once: then every waiting and later call gets no reply
// (the client answers CKR_DEVICE_ERROR) and the on_stop callbacks run, once, on the watching
// thread.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pkcs11/module_helper/client/call_channel.h"
#include "pkcs11/module_helper/client/helper_spawner.h"
#include "pkcs11/module_helper/helper_options.h"
#include "pkcs11/module_helper/wire/frame_io.h"
#include "pkcs11/result.h"
#include "pkcs11/stream/reply_wait.h"

namespace attache::p11::module_helper {

class HelperConnection final : public CallChannel {
  public:
    // Spawns the helper and waits (at most options.call_timeout) for its hello, which carries
    // the module's C_Initialize result.
    static Result<std::shared_ptr<HelperConnection>> start(const std::string& module_path,
                                                           const HelperOptions& options);
    ~HelperConnection() override;
    HelperConnection(const HelperConnection&) = delete;
    HelperConnection& operator=(const HelperConnection&) = delete;

    std::optional<FrameBuffer> round_trip(CallId call, FrameBuffer request,
                                          CallTiming timing) override;

    bool alive() const;
    std::string stop_reason() const;
    // Called once when the helper stops; at once (on this thread) if it already has.
    void on_stop(std::function<void(const std::string&)> callback);
    pid_t pid() const { return helper_.pid; }
    // Calls sent so far, by call name; kinds never sent are absent.
    std::map<std::string, std::uint64_t> call_counts() const;

    // Ends the helper: closes the socket (the helper finalises the module and exits), kills it
    // if it has not exited after kCloseGrace, reaps it, joins the watcher. No on_stop callback
    // runs for this. Idempotent.
    void close();

  private:
    using Clock = std::chrono::steady_clock;
    struct Pending {
        CallId call;
        bool timed;
        Clock::time_point deadline;
        std::optional<FrameBuffer> reply;
        bool done = false;
    };

    HelperConnection(SpawnedHelper helper, std::chrono::milliseconds timeout);
    void watch();
    void deliver(FrameBuffer payload);
    // The reading caller's turn: waits for the socket (or the helper's end) and delivers the
    // replies that one read completes. Called without mutex_.
    void read_replies();
    void kill_helper(std::string why);
    void finish(std::string reason);
    std::string in_flight_locked() const;
    void wake_watcher();

    const SpawnedHelper helper_;
    const std::chrono::milliseconds timeout_;
    int wake_fd_ = -1;

    mutable std::mutex mutex_;
    std::map<std::uint32_t, Pending*> pending_;
    std::uint32_t next_id_ = 1;
    size_t timed_in_flight_ = 0;
    bool stopped_ = false;
    bool closing_ = false;
    std::string reason_;
    std::string kill_reason_;  // set when the agent killed the helper, and why
    std::vector<std::function<void(const std::string&)>> callbacks_;
    // Some caller is reading the socket; the socket has ended (EOF, error, a bad frame).
    bool reading_ = false;
    bool socket_ended_ = false;
    // A reply was delivered, the reading turn is free, or the helper stopped.
    std::condition_variable changed_;
    // How long each kind of call took (under mutex_): a caller whose reply is due soon polls
    // for it instead of sleeping (reply_wait.h), as the native protocol's client does.
    stream::LatencyHistory latencies_;
    // Only the caller whose turn it is touches these.
    FrameAssembler frames_;
    std::vector<std::uint8_t> read_buffer_ = std::vector<std::uint8_t>(64 * 1024);

    std::array<std::atomic<std::uint64_t>, static_cast<size_t>(CallId::last) + 1> sent_{};

    std::mutex write_mutex_;
    std::thread watcher_;
};

}  // namespace attache::p11::module_helper
