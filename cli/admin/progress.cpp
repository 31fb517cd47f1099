#include "cli/admin/progress.h"

#include <unistd.h>

#include <cstdio>

namespace attache::cli::admin {
namespace {

long seconds_since(std::chrono::steady_clock::time_point start) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
            .count());
}

}  // namespace

Progress::Progress(std::string what)
    : what_(std::move(what)),
      start_(std::chrono::steady_clock::now()),
      tty_(isatty(STDERR_FILENO)) {
    if (tty_) {
        std::fprintf(stderr, "%s ...", what_.c_str());
        std::fflush(stderr);
        ticker_ = std::thread([this] { tick(); });
    } else {
        std::fprintf(stderr, "%s ...\n", what_.c_str());
        std::fflush(stderr);
    }
}

Progress::~Progress() {
    finish(false);
}

void Progress::tick() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return finished_; })) {
        std::fprintf(stderr, "\r%s ... %ld s", what_.c_str(), seconds_since(start_));
        std::fflush(stderr);
    }
}

void Progress::finish(bool ok) {
    {
        std::lock_guard lock(mutex_);
        if (finished_)
            return;
        finished_ = true;
    }
    wake_.notify_all();
    if (ticker_.joinable())
        ticker_.join();
    // On a terminal: back to the start of the line, and clear it (ESC [ K).
    std::fprintf(stderr, "%s%s: %s in %ld s\n", tty_ ? "\r\033[K" : "", what_.c_str(),
                 ok ? "done" : "stopped", seconds_since(start_));
    std::fflush(stderr);
}

}  // namespace attache::cli::admin
