#pragma once

// How the agent starts a PKCS#11 module in a helper process (attache-module-helper).

#include <chrono>
#include <string>
#include <vector>

namespace attache::p11 {

struct HelperOptions {
    // The attache-module-helper executable (Module::default_helper_path() finds the usual one).
    std::string helper_path;
    // The helper's whole environment, "NAME=value" each; nothing else is inherited.
    std::vector<std::string> environment;
    // A call that overruns this means the helper hangs: it is killed. Exempt: a blocking
    // C_WaitForSlotEvent and a PIN-pad C_Login (NULL PIN), which may wait for a person.
    std::chrono::milliseconds call_timeout{60000};
};

}  // namespace attache::p11
