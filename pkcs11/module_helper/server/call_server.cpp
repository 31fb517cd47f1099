#include "pkcs11/module_helper/server/call_server.h"

#include <cstdlib>
#include <thread>

#include "pkcs11/module_helper/server/call_dispatch.h"
#include "pkcs11/module_helper/wire/field_writer.h"
#include "pkcs11/module_helper/wire/frame_io.h"
#include "pkcs11/stream/reply_wait.h"

namespace attache::p11::module_helper {

size_t CallServer::serve() {
    serve_as_thread();
    std::lock_guard lock(mutex_);
    return busy_;
}

void CallServer::serve_as_thread() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ++waiting_;
        reader_free_.wait(lock, [&] { return !reading_ || ended_; });
        --waiting_;
        if (ended_)
            return;
        reading_ = true;
        const bool poll_first = agent_is_quick_ && busy_ == 0;
        lock.unlock();
        bool contended = false;
        if (poll_first)
            contended =
                stream::spin_until_readable(fd_, kNextCallWindow) == stream::Arrival::contended;
        FrameBuffer payload;
        const ReadStatus status = read_frame(fd_, payload);
        lock.lock();
        reading_ = false;
        agent_is_quick_ = !contended && replied_ != std::chrono::steady_clock::time_point{} &&
                          std::chrono::steady_clock::now() - replied_ <= kNextCallWindow;
        if (status != ReadStatus::frame) {
            ended_ = true;
            reader_free_.notify_all();
            return;
        }
        if (busy_ >= max_in_flight_) {
            lock.unlock();
            answer_busy(payload);
            lock.lock();
            continue;  // and read again: every other thread is in a call
        }
        ++busy_;
        // Someone must read the next call while this thread makes this one.
        const bool start_reader = waiting_ == 0;
        if (!start_reader)
            reader_free_.notify_one();
        lock.unlock();
        if (start_reader)
            std::thread([this] { serve_as_thread(); }).detach();
        make_call(std::move(payload));
        lock.lock();
        --busy_;
        replied_ = std::chrono::steady_clock::now();
    }
}

void CallServer::make_call(FrameBuffer payload) {
    auto reply = dispatch_call(module_, payload.bytes());
    payload.wipe();
    if (!reply)
        std::_Exit(3);  // not even a header: the peer is no agent
    std::lock_guard lock(write_mutex_);
    write_frame(fd_, *reply);
}

void CallServer::answer_busy(const FrameBuffer& payload) {
    auto header = read_frame_header(payload.bytes());
    if (!header)
        std::_Exit(3);
    FieldWriter busy(CallId::busy, header->call_id);
    if (auto frame = busy.finish()) {
        std::lock_guard lock(write_mutex_);
        write_frame(fd_, *frame);
    }
}

}  // namespace attache::p11::module_helper
