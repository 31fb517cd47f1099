#pragma once

#include <ostream>
#include <string_view>
#include <vector>

namespace attache::faulttoken {

// Runs attache-faultctl on its arguments (without the program name), writing results to out and
// errors to err. Returns the exit status: 0 done, 1 failed, 2 bad usage.
int run_faultctl(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err);

}  // namespace attache::faulttoken
