#include "pkcs11/module_helper/client/helper_connection.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "pkcs11/module_helper/wire/field_reader.h"
#include "pkcs11/module_helper/wire/frame_io.h"
#include "pkcs11/names.h"

namespace attache::p11::module_helper {
namespace {

// How long a closed helper may take to finalise its module before it is killed.
constexpr std::chrono::milliseconds kCloseGrace{5000};
constexpr idtype_t kPidfdId = static_cast<idtype_t>(3);  // P_PIDFD (Linux 5.4)

void send_kill(int pidfd) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
}

siginfo_t reap(int pidfd) {
    siginfo_t info{};
    while (waitid(kPidfdId, static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
    }
    return info;
}

std::string how_it_ended(const siginfo_t& info) {
    if (info.si_code == CLD_EXITED)
        return "exited with status " + std::to_string(info.si_status);
    const int sig = info.si_status;
    const char* abbrev = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) + " (SIG" + (abbrev ? abbrev : "?") + ")";
}

void kill_and_reap(const SpawnedHelper& h) {
    send_kill(h.pidfd);
    reap(h.pidfd);
    ::close(h.pidfd);
    ::close(h.socket);
}

// The hello: rv and a message. Waits at most `timeout`.
Result<void> await_hello(const SpawnedHelper& h, const std::string& module_path,
                         std::chrono::milliseconds timeout) {
    FrameAssembler frames;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::uint8_t buf[4096];
    for (;;) {
        if (auto payload = frames.next()) {
            auto header = read_frame_header(payload->bytes());
            FieldReader in(payload->bytes());
            const CK_RV rv = in.ulong();
            auto message = in.bytes();
            if (!header || header->call != static_cast<std::uint16_t>(CallId::hello) ||
                !in.finish())
                return Error("the module helper for " + module_path + " sent no valid hello");
            if (rv != CKR_OK) {
                std::string text = message ? std::string(message->begin(), message->end()) : "";
                return Error("the module helper could not load " + module_path + ": " + text +
                                 " (" + std::string(rv_name(rv)) + ")",
                             rv);
            }
            return {};
        }
        if (frames.bad())
            return Error("the module helper for " + module_path + " sent no valid hello");
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return Error("the module helper for " + module_path + " did not load it within " +
                         std::to_string(timeout.count()) + " ms");
        pollfd p{h.socket, POLLIN, 0};
        const int n = poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR)
            return Error(std::string("poll: ") + strerror(errno));
        if (n <= 0)
            continue;
        const ssize_t got = ::read(h.socket, buf, sizeof buf);
        if (got <= 0) {
            const siginfo_t info = reap(h.pidfd);
            return Error("the module helper for " + module_path + " " + how_it_ended(info) +
                         " before it loaded the module");
        }
        frames.feed(buf, static_cast<size_t>(got));
    }
}

}  // namespace

Result<std::shared_ptr<HelperConnection>> HelperConnection::start(const std::string& module_path,
                                                                  const HelperOptions& options) {
    ATTACHE_TRY(SpawnedHelper h,
                spawn_helper(options.helper_path, module_path, options.environment));
    auto hello = await_hello(h, module_path, options.call_timeout);
    if (!hello) {
        kill_and_reap(h);  // reaping twice is harmless: waitid then fails with ECHILD
        return hello.error();
    }
    std::shared_ptr<HelperConnection> c(new HelperConnection(h, options.call_timeout));
    if (c->wake_fd_ < 0)
        return Error(std::string("eventfd: ") + strerror(errno));
    c->watcher_ = std::thread([raw = c.get()] { raw->watch(); });
    return c;
}

HelperConnection::HelperConnection(SpawnedHelper helper, std::chrono::milliseconds timeout)
    : helper_(helper), timeout_(timeout), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

HelperConnection::~HelperConnection() {
    close();
    ::close(helper_.socket);
    ::close(helper_.pidfd);
    if (wake_fd_ >= 0)
        ::close(wake_fd_);
}

void HelperConnection::close() {
    {
        std::lock_guard lock(mutex_);
        if (closing_)
            return;
        closing_ = true;
    }
    if (watcher_.joinable()) {
        ::shutdown(helper_.socket, SHUT_WR);
        wake_watcher();
        watcher_.join();
    } else {
        send_kill(helper_.pidfd);
        reap(helper_.pidfd);
    }
}

bool HelperConnection::alive() const {
    std::lock_guard lock(mutex_);
    return !stopped_;
}

std::string HelperConnection::stop_reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
}

void HelperConnection::on_stop(std::function<void(const std::string&)> callback) {
    std::unique_lock lock(mutex_);
    if (!stopped_) {
        callbacks_.push_back(std::move(callback));
        return;
    }
    const std::string reason = reason_;
    lock.unlock();
    callback(reason);
}

void HelperConnection::wake_watcher() {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

std::optional<FrameBuffer> HelperConnection::round_trip(CallId call, FrameBuffer request,
                                                        CallTiming timing) {
    Pending p{call, timing == CallTiming::timed, Clock::now() + timeout_, std::nullopt};
    std::uint32_t id = 0;
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (stopped_ || closing_)
            return std::nullopt;
        id = next_id_++;
        if (next_id_ == 0)
            next_id_ = 1;
        pending_[id] = &p;
        if (p.timed)
            wake = timed_in_flight_++ == 0;  // else an earlier deadline is already watched
    }
    FieldWriter::set_call_id(request, id);
    if (static_cast<size_t>(call) < sent_.size())
        sent_[static_cast<size_t>(call)].fetch_add(1, std::memory_order_relaxed);
    if (wake)
        wake_watcher();
    {
        std::lock_guard lock(write_mutex_);
        // A failed write means the helper is gone; the watcher sees it and ends this call.
        write_frame(helper_.socket, request);
    }
    request.wipe();
    const auto kind = static_cast<std::uint64_t>(call);
    const auto sent = Clock::now();
    bool first_turn = true;
    std::unique_lock lock(mutex_);
    while (!p.done) {
        if (reading_ || socket_ended_) {
            changed_.wait(lock);
            first_turn = false;
            continue;
        }
        reading_ = true;
        // Only a lone timed call predicts: with others in flight the next reply may be theirs.
        const bool predict = first_turn && p.timed && pending_.size() == 1;
        const stream::Micros expected = predict ? latencies_.expected(kind) : stream::Micros(0);
        lock.unlock();
        const stream::Arrival arrival = predict ? stream::wait_until_due(helper_.socket, expected)
                                                : stream::Arrival::unpredicted;
        read_replies();
        lock.lock();
        if (predict && p.done) {
            latencies_.record(kind, std::chrono::duration_cast<stream::Micros>(Clock::now() - sent),
                              arrival);
        }
        first_turn = false;
        reading_ = false;
        changed_.notify_all();  // a waiting caller takes the next turn
    }
    return std::move(p.reply);
}

std::map<std::string, std::uint64_t> HelperConnection::call_counts() const {
    std::map<std::string, std::uint64_t> counts;
    for (size_t i = 0; i < sent_.size(); ++i) {
        if (const std::uint64_t n = sent_[i].load(std::memory_order_relaxed); n > 0)
            counts.emplace(call_name(static_cast<CallId>(i)), n);
    }
    return counts;
}

void HelperConnection::read_replies() {
    // The pidfd too: a helper that died while a process it started keeps the socket open must
    // not leave the reading caller blocked.
    pollfd fds[2] = {{helper_.socket, POLLIN, 0}, {helper_.pidfd, POLLIN, 0}};
    const int n = poll(fds, 2, -1);
    if (n < 0)
        return;  // EINTR: the caller reads again
    bool ended = false;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t got = ::read(helper_.socket, read_buffer_.data(), read_buffer_.size());
        if (got > 0) {
            frames_.feed(read_buffer_.data(), static_cast<size_t>(got));
            while (auto payload = frames_.next())
                deliver(std::move(*payload));
            if (frames_.bad()) {
                kill_helper("it sent a malformed frame");
                ended = true;
            }
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
            // A helper that hung up is of no use; make sure it is gone.
            send_kill(helper_.pidfd);
            ended = true;
        }
    } else if (fds[1].revents & POLLIN) {
        ended = true;  // the watcher sees the same pidfd and ends every call
    }
    if (ended) {
        std::lock_guard lock(mutex_);
        socket_ended_ = true;
    }
}

void HelperConnection::deliver(FrameBuffer payload) {
    auto header = read_frame_header(payload.bytes());
    std::lock_guard lock(mutex_);
    auto it = header ? pending_.find(header->call_id) : pending_.end();
    if (it == pending_.end()) {
        if (kill_reason_.empty())
            kill_reason_ = "it answered a call that was not made";
        send_kill(helper_.pidfd);
        return;
    }
    Pending* p = it->second;
    pending_.erase(it);
    if (p->timed)
        --timed_in_flight_;
    p->reply = std::move(payload);
    p->done = true;
    changed_.notify_all();
}

void HelperConnection::kill_helper(std::string why) {
    {
        std::lock_guard lock(mutex_);
        if (kill_reason_.empty())
            kill_reason_ = std::move(why);
    }
    send_kill(helper_.pidfd);
}

std::string HelperConnection::in_flight_locked() const {
    std::vector<std::string> names;
    for (const auto& [id, p] : pending_) {
        std::string name(call_name(p->call));
        if (std::find(names.begin(), names.end(), name) == names.end())
            names.push_back(name);
    }
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? " in " : ", ") + n;
    return out;
}

void HelperConnection::finish(std::string how) {
    std::vector<std::function<void(const std::string&)>> callbacks;
    std::string reason;
    {
        std::lock_guard lock(mutex_);
        if (closing_ && kill_reason_.empty())
            reason = "the module's helper process was stopped by the agent";
        else if (!kill_reason_.empty())
            reason = "the module's helper process was killed: " + kill_reason_;
        else
            reason = "the module's helper process " + how + in_flight_locked();
        reason_ = reason;
        stopped_ = true;
        for (auto& [id, p] : pending_)
            p->done = true;
        pending_.clear();
        changed_.notify_all();
        timed_in_flight_ = 0;
        if (!closing_)
            callbacks.swap(callbacks_);
        else
            callbacks_.clear();
    }
    for (auto& cb : callbacks)
        cb(reason);
}

void HelperConnection::watch() {
    bool socket_open = true;
    std::optional<Clock::time_point> close_deadline;
    for (;;) {
        std::optional<Clock::time_point> next;
        {
            std::lock_guard lock(mutex_);
            if (closing_ && !close_deadline)
                close_deadline = Clock::now() + kCloseGrace;
            for (const auto& [id, p] : pending_) {
                if (p->timed && (!next || p->deadline < *next))
                    next = p->deadline;
            }
        }
        if (close_deadline && (!next || *close_deadline < *next))
            next = close_deadline;
        int timeout_ms = -1;
        if (next) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
            timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
        }
        // The socket only for its hang-up: the callers read the replies.
        pollfd fds[3] = {{socket_open ? helper_.socket : -1, POLLRDHUP, 0},
                         {helper_.pidfd, POLLIN, 0},
                         {wake_fd_, POLLIN, 0}};
        const int n = poll(fds, 3, timeout_ms);
        if (n < 0 && errno != EINTR) {
            kill_helper(std::string("the agent could not watch it (poll: ") + strerror(errno) +
                        ")");
            finish(how_it_ended(reap(helper_.pidfd)));
            return;
        }
        if (fds[2].revents & POLLIN) {
            std::uint64_t v;
            [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof v);
        }
        if (socket_open && (fds[0].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            socket_open = false;
            // A helper that hung up is of no use; make sure it is gone.
            send_kill(helper_.pidfd);
        }
        if (fds[1].revents & POLLIN) {
            finish(how_it_ended(reap(helper_.pidfd)));
            return;
        }
        const auto now = Clock::now();
        std::string overran;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [id, p] : pending_) {
                if (p->timed && p->deadline <= now) {
                    overran = std::string(call_name(p->call));
                    break;
                }
            }
        }
        if (!overran.empty())
            kill_helper(overran + " overran the call timeout of " +
                        std::to_string(timeout_.count()) + " ms");
        if (close_deadline && *close_deadline <= now)
            send_kill(helper_.pidfd);
    }
}

}  // namespace attache::p11::module_helper
