#pragma once

// Servers for the client tests: a free loopback port, and a program run in the background
// with its output in a file (killed, by its pid, when the object goes).

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/support/loopback.h"

namespace attache::testing {

// True once something accepts connections on 127.0.0.1:port (bounded: ~10 s).
bool wait_for_port(int port);

class Background {
  public:
    Background(const std::vector<std::string>& argv, const std::string& log,
               const std::map<std::string, std::string>& env = {});
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

  private:
    UniqueFd input_;
    pid_t pid_ = -1;
};

}  // namespace attache::testing
