#pragma once

// Waiting for something another process or thread does, with a bound on a failure (not a
// measurement).

#include <chrono>
#include <functional>

namespace attache::testing {

// Polls `condition` every 20 ms for at most `limit`; true when it held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(5));

}  // namespace attache::testing
