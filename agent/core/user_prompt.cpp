#include "agent/core/user_prompt.h"

namespace attache::agent {

void PromptCancel::arm() {
    std::lock_guard lock(mutex_);
    cancelled_ = false;
    canceller_ = nullptr;
}

bool PromptCancel::set_canceller(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    if (cancelled_)
        return false;
    canceller_ = std::move(fn);
    return true;
}

void PromptCancel::clear_canceller() {
    std::lock_guard lock(mutex_);
    canceller_ = nullptr;
}

void PromptCancel::cancel() {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    // Under the mutex: the prompter clears the canceller (under the same mutex) before it
    // reaps its child, so a canceller never signals a reused process id.
    if (canceller_)
        canceller_();
}

bool PromptCancel::cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
}

}  // namespace attache::agent
