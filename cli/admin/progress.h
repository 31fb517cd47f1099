#pragma once

// Progress of a slow card operation (RSA-4096 generation can take a minute): on a terminal, a
// line on standard error with the seconds elapsed, refreshed every second; otherwise one line
// when the step starts and one when it ends.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace attache::cli::admin {

class Progress {
  public:
    explicit Progress(std::string what);
    ~Progress();  // finish() if not yet done
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Ends the step: "<what>: done in N s" (or "failed").
    void finish(bool ok = true);

  private:
    void tick();

    std::string what_;
    std::chrono::steady_clock::time_point start_;
    bool tty_ = false;
    bool finished_ = false;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread ticker_;
};

}  // namespace attache::cli::admin
