#pragma once

// How the agent starts one configured module: inside itself (p11::Module::load) or in a
// helper process of its own (p11::Module::start_helper), per the configuration's
// module_process. The helper gets the environment the module would have had in the agent:
// the agent's own (in managed mode already cleared to the unit's and module_environment,
// agent/managed/system_setup.h), without the variables systemd meant for the agent alone.

#include <chrono>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "pkcs11/module.h"
#include "pkcs11/result.h"

namespace attache::agent {

class ModuleLaunch {
  public:
    explicit ModuleLaunch(const Config& config);

    Result<p11::Module> operator()(const std::string& spec) const;
    bool in_helper() const { return process_ == ModuleProcess::helper; }
    const std::string& helper_path() const { return helper_path_; }

  private:
    ModuleProcess process_;
    std::string helper_path_;
    std::vector<std::string> environment_;
    std::chrono::milliseconds call_timeout_;
};

// This process's environment as NAME=VALUE strings, less systemd's socket activation,
// notification and watchdog variables (a helper is not the unit's main process).
std::vector<std::string> helper_environment();

}  // namespace attache::agent
