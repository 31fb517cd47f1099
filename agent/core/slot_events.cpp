#include "agent/core/slot_events.h"

#include <thread>

namespace attache::agent {

// After an error from the module (pcscd restarting) the waiter tries again this much later;
// the watcher reads the module's slots meanwhile.
constexpr std::chrono::seconds kRetryAfterError{1};

enum class WaitMode { none, blocking, unsupported };

struct SlotEvents::State {
    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    WaitMode mode = WaitMode::none;
    bool pending = false;
};

SlotEvents::SlotEvents() : state_(std::make_shared<State>()) {}

SlotEvents::~SlotEvents() {
    stop();
}

void SlotEvents::watch(p11::Module module) {
    {
        std::lock_guard lock(state_->mutex);
        state_->mode = WaitMode::blocking;
    }
    std::thread(run, state_, std::move(module)).detach();
}

bool SlotEvents::blocking() const {
    std::lock_guard lock(state_->mutex);
    return state_->mode == WaitMode::blocking;
}

void SlotEvents::notify() {
    {
        std::lock_guard lock(state_->mutex);
        state_->pending = true;
    }
    state_->wake.notify_all();
}

void SlotEvents::run(std::shared_ptr<State> state, p11::Module module) {
    for (;;) {
        auto slot = module.wait_for_slot_event(/*dont_block=*/false);
        std::unique_lock lock(state->mutex);
        if (state->stopping)
            return;
        if (!slot && slot.error().is(CKR_FUNCTION_NOT_SUPPORTED)) {
            state->mode = WaitMode::unsupported;  // the watcher polls it instead
            state->wake.notify_all();
            return;
        }
        if (!slot && slot.error().is(CKR_CRYPTOKI_NOT_INITIALIZED))
            return;  // finalised: nothing more will come
        // An event, or an error saying nothing about the slots: either way the watcher looks.
        state->pending = true;
        state->wake.notify_all();
        if (!slot) {
            state->wake.wait_for(lock, kRetryAfterError, [&] { return state->stopping; });
            if (state->stopping)
                return;
        }
    }
}

SlotEvents::Wake SlotEvents::wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(state_->mutex);
    state_->wake.wait_until(lock, deadline, [&] { return state_->stopping || state_->pending; });
    if (state_->stopping)
        return Wake::stopping;
    if (state_->pending) {
        state_->pending = false;
        return Wake::event;
    }
    return Wake::timeout;
}

void SlotEvents::stop() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->wake.notify_all();
}

}  // namespace attache::agent
