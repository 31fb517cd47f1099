#include "agent/core/module_launch.h"

#include <cstring>
#include <string_view>

extern char** environ;

namespace attache::agent {
namespace {

// Meant for the agent's own process: passed on, a helper would answer systemd's watchdog or
// take the agent's sockets for its own.
constexpr std::string_view kAgentOnly[] = {"LISTEN_FDS",    "LISTEN_PID",    "LISTEN_FDNAMES",
                                           "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

bool agent_only(std::string_view entry) {
    const std::string_view name = entry.substr(0, entry.find('='));
    for (auto v : kAgentOnly) {
        if (name == v)
            return true;
    }
    return false;
}

}  // namespace

std::vector<std::string> helper_environment() {
    std::vector<std::string> out;
    for (char** e = environ; *e != nullptr; ++e) {
        if (!agent_only(*e))
            out.emplace_back(*e);
    }
    return out;
}

ModuleLaunch::ModuleLaunch(const Config& config)
    : process_(config.module_process),
      helper_path_(config.module_helper.empty() ? p11::Module::default_helper_path()
                                                : config.module_helper),
      environment_(helper_environment()),
      call_timeout_(config.module_call_timeout) {}

Result<p11::Module> ModuleLaunch::operator()(const std::string& spec) const {
    if (process_ == ModuleProcess::helper)
        return p11::Module::start_helper(spec, {helper_path_, environment_, call_timeout_});
    return p11::Module::load(spec);
}

}  // namespace attache::agent
