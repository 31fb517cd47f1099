#include "pkcs11/agent_protocol/agent_endpoint.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/trusted_path.h"

namespace attache::protocol {
namespace {

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
        return {};
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

Result<uid_t> uid_of(const std::string& user, const std::string& origin) {
    passwd pw{};
    passwd* found = nullptr;
    char buf[4096];
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found) != 0 || found == nullptr)
        return Error(origin + ": the broker's user '" + user +
                     "' does not exist on this machine (create it: see the admin guide, "
                     "\"Managed mode\")");
    return found->pw_uid;
}

}  // namespace

Result<ManagedMode> parse_managed_conf(const std::string& text, const std::string& origin) {
    ManagedMode mode;
    mode.conf = origin;
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        const std::string l = trim(line.substr(0, line.find('#')));
        if (l.empty())
            continue;
        const auto eq = l.find('=');
        const std::string where = origin + ":" + std::to_string(n);
        if (eq == std::string::npos)
            return Error(where + ": expected `key = value`");
        const std::string key = trim(l.substr(0, eq));
        const std::string value = trim(l.substr(eq + 1));
        if (key == "socket_dir") {
            if (value.empty() || value[0] != '/')
                return Error(where + ": socket_dir must be an absolute path");
            mode.socket_dir = value;
        } else if (key == "broker_user") {
            if (value.empty())
                return Error(where + ": broker_user must not be empty");
            mode.broker_user = value;
        } else {
            return Error(where + ": unknown key `" + key + "` (socket_dir, broker_user)");
        }
    }
    return mode;
}

Result<std::optional<ManagedMode>> managed_mode() {
    std::string conf = kManagedConf;
    std::error_code ec;
    if (!std::filesystem::exists(conf, ec)) {
        const char* override_conf = std::getenv("ATTACHE_MANAGED_CONF");
        if (override_conf == nullptr || *override_conf == '\0')
            return std::optional<ManagedMode>();
        conf = override_conf;
    }
    ATTACHE_CHECK(check_root_owned(conf));
    std::ifstream in(conf);
    if (!in)
        return Error("cannot read " + conf);
    std::stringstream text;
    text << in.rdbuf();
    ATTACHE_TRY(ManagedMode mode, parse_managed_conf(text.str(), conf));
    ATTACHE_CHECK(check_root_owned(mode.socket_dir));
    ATTACHE_TRY(mode.broker_uid, uid_of(mode.broker_user, conf));
    return std::optional<ManagedMode>(std::move(mode));
}

Result<AgentEndpoint> agent_endpoint() {
    ATTACHE_TRY(std::optional<ManagedMode> managed, managed_mode());
    if (!managed)
        return AgentEndpoint{default_socket_path(), std::nullopt, "your own agent"};
    const std::string path = managed->socket_dir + "/agent.sock";
    if (const char* s = std::getenv("ATTACHE_SOCK"); s && *s) {
        if (std::filesystem::path(s).lexically_normal() != std::filesystem::path(path))
            return Error("refusing ATTACHE_SOCK=" + std::string(s) +
                         ": this machine is in managed mode (" + managed->conf +
                         ") and its broker listens on " + path +
                         " only; unset ATTACHE_SOCK (something may be relaying your agent)");
    }
    return AgentEndpoint{path, managed->broker_uid,
                         "the broker (user '" + managed->broker_user + "')"};
}

Result<std::optional<std::string>> managed_ssh_socket() {
    ATTACHE_TRY(std::optional<ManagedMode> managed, managed_mode());
    if (!managed)
        return std::optional<std::string>();
    return std::optional<std::string>(managed->socket_dir + "/ssh.sock");
}

}  // namespace attache::protocol
