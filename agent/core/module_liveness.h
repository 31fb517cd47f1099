#pragma once

// Whether a module is still running, for the watchers and tokens. In-process modules always
// are. TEMPORARY: stands in for p11::Module::alive(), stop_reason(), on_stop() and
// helper_pid() (wt/helper-rpc, issue 17) until that branch is merged; then each function
// becomes a call of the Module method of the same name and this file goes.

#include <sys/types.h>

#include <functional>
#include <string>

#include "pkcs11/module.h"

namespace attache::agent {

inline bool module_alive(const p11::Module&) {
    return true;
}
inline std::string module_stop_reason(const p11::Module&) {
    return {};
}
inline void module_on_stop(const p11::Module&, std::function<void(const std::string&)>) {}
inline pid_t module_helper_pid(const p11::Module&) {
    return 0;
}

}  // namespace attache::agent
