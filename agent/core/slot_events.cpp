#include "agent/core/slot_events.h"

#include <thread>

namespace attache::agent {

// After an error from the module (pcscd restarting) the waiter tries again this much later;
// the monitor reads the module's slots meanwhile.
constexpr std::chrono::seconds kRetryAfterError{1};

enum class WaitMode { none, blocking, unsupported };

struct SlotEvents::State {
    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    std::vector<WaitMode> mode;
    std::vector<bool> pending;

    void grow(size_t index) {
        if (mode.size() <= index) {
            mode.resize(index + 1, WaitMode::none);
            pending.resize(index + 1, false);
        }
    }
};

SlotEvents::SlotEvents() : state_(std::make_shared<State>()) {}

SlotEvents::~SlotEvents() {
    stop();
}

void SlotEvents::watch(size_t index, p11::Module module) {
    {
        std::lock_guard lock(state_->mutex);
        state_->grow(index);
        state_->mode[index] = WaitMode::blocking;
    }
    std::thread(run, state_, index, std::move(module)).detach();
}

bool SlotEvents::blocking(size_t index) const {
    std::lock_guard lock(state_->mutex);
    return index < state_->mode.size() && state_->mode[index] == WaitMode::blocking;
}

void SlotEvents::run(std::shared_ptr<State> state, size_t index, p11::Module module) {
    for (;;) {
        auto slot = module.wait_for_slot_event(/*dont_block=*/false);
        std::unique_lock lock(state->mutex);
        if (state->stopping)
            return;
        if (!slot && slot.error().is(CKR_FUNCTION_NOT_SUPPORTED)) {
            state->mode[index] = WaitMode::unsupported;  // the monitor polls it instead
            state->wake.notify_all();
            return;
        }
        if (!slot && slot.error().is(CKR_CRYPTOKI_NOT_INITIALIZED))
            return;  // finalised: nothing more will come
        // An event, or an error saying nothing about the slots: either way the monitor looks.
        state->pending[index] = true;
        state->wake.notify_all();
        if (!slot) {
            state->wake.wait_for(lock, kRetryAfterError, [&] { return state->stopping; });
            if (state->stopping)
                return;
        }
    }
}

std::vector<size_t> SlotEvents::wait_until(std::chrono::steady_clock::time_point deadline,
                                           bool& stopping) {
    std::unique_lock lock(state_->mutex);
    auto any_pending = [&] {
        for (bool p : state_->pending) {
            if (p)
                return true;
        }
        return false;
    };
    state_->wake.wait_until(lock, deadline, [&] { return state_->stopping || any_pending(); });
    stopping = state_->stopping;
    std::vector<size_t> events;
    for (size_t i = 0; i < state_->pending.size(); ++i) {
        if (state_->pending[i]) {
            events.push_back(i);
            state_->pending[i] = false;
        }
    }
    return events;
}

void SlotEvents::stop() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->wake.notify_all();
}

}  // namespace attache::agent
