#include "agent/managed/system_setup.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pkcs11/trusted_path.h"

extern char** environ;

namespace attache::agent {
namespace {

// systemd's variables (socket activation, notification, the journal) and the bus address the
// unit gives: kept. Everything else goes.
constexpr const char* kKept[] = {"LISTEN_FDS",    "LISTEN_PID",    "LISTEN_FDNAMES",
                                 "NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM",
                                 "WATCHDOG_USEC", "WATCHDOG_PID",  "DBUS_SYSTEM_BUS_ADDRESS"};

Status check_if_exists(const std::filesystem::path& p, const char* what) {
    std::error_code ec;
    if (!std::filesystem::exists(p, ec))
        return ok();
    auto s = check_root_owned(p);
    if (!s)
        return std::move(s).error().context(what);
    return ok();
}

}  // namespace

Result<Config> load_system_config(const std::filesystem::path& dir) {
    ATTACHE_CHECK(check_root_owned(dir).context("the broker's configuration directory"));
    const auto file = dir / "agent.toml";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
        return Error(file.string() +
                     " does not exist: a managed broker is configured there "
                     "(see the admin guide, \"Managed mode\")");
    ATTACHE_CHECK(check_root_owned(file));
    ATTACHE_TRY(Config config, load_config({file}, {}));
    for (const auto& m : config.modules) {
        if (m.empty() || m.front() != '/')
            return Error(file.string() + ": module '" + m +
                         "' must be an absolute path in managed mode (no module names, no "
                         "p11-kit lookup)");
        ATTACHE_CHECK(check_root_owned(m).context("module"));
    }
    for (const auto& m : config.ssh_add_allowed_modules)
        ATTACHE_CHECK(check_root_owned(m).context("ssh_add_allowed_modules"));
    ATTACHE_CHECK(check_if_exists(config.policy, "policy"));
    ATTACHE_CHECK(check_root_owned(config.manifest).context("the card manifest"));
    ATTACHE_CHECK(check_root_owned(config.manifest + ".sig").context("the manifest's signature"));
    ATTACHE_CHECK(check_root_owned(config.manifest_signer).context("the manifest signer's key"));
    if (config.socket.empty())
        config.socket = std::string(kSystemSocketDir) + "/agent.sock";
    if (config.ssh_socket.empty())
        config.ssh_socket = std::filesystem::path(config.socket).parent_path() / "ssh.sock";
    // No display of the holder's is the broker's: PINs come with `attache unlock`, whose
    // connection the CLI checked is the broker's.
    config.pinentry.clear();
    config.prompt_on_use = false;
    return config;
}

Status check_start_environment() {
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "LD_", 3) == 0) {
            const std::string name(*e, std::strcspn(*e, "="));
            return Error("the broker was started with " + name +
                         " set; a managed broker runs with its unit's environment only");
        }
    }
    return ok();
}

Result<BrokerUser> find_broker_user(const std::string& name) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
        return Error("the broker's user '" + name +
                     "' does not exist; create it: useradd --system --home-dir /var/lib/attache "
                     "--shell /usr/sbin/nologin " +
                     name);
    if (found->pw_uid == 0)
        return Error("the broker's user '" + name + "' is root; give it a system user of its own");
    return BrokerUser{found->pw_name, found->pw_uid, found->pw_gid,
                      found->pw_dir ? found->pw_dir : "/nonexistent"};
}

void set_broker_environment(const Config& config, const BrokerUser& user) {
    std::vector<std::pair<std::string, std::string>> kept;
    for (const char* name : kKept) {
        if (const char* v = std::getenv(name))
            kept.emplace_back(name, v);
    }
    clearenv();
    for (const auto& [name, value] : kept)
        setenv(name.c_str(), value.c_str(), 1);
    setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
    setenv("HOME", user.home.c_str(), 1);
    setenv("USER", user.name.c_str(), 1);
    for (const auto& pair : config.module_environment) {
        const auto eq = pair.find('=');
        setenv(pair.substr(0, eq).c_str(), pair.substr(eq + 1).c_str(), 1);
    }
}

Status prepare_system_socket_dir(const std::filesystem::path& dir) {
    if (geteuid() == 0 && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        return Error("cannot create " + dir.string() + ": " + std::strerror(errno));
    ATTACHE_CHECK(check_root_owned(dir).context("the broker's socket directory"));
    return ok();
}

Status become_broker_user(const BrokerUser& user) {
    if (getuid() == user.uid && geteuid() == user.uid)
        return ok();
    if (geteuid() != 0)
        return Error("the managed broker runs as user '" + user.name + "' (uid " +
                     std::to_string(user.uid) + "), or is started as root; this is uid " +
                     std::to_string(getuid()));
    if (initgroups(user.name.c_str(), user.gid) != 0 ||
        setresgid(user.gid, user.gid, user.gid) != 0 ||
        setresuid(user.uid, user.uid, user.uid) != 0)
        return Error("becoming user '" + user.name + "': " + std::strerror(errno));
    if (setuid(0) == 0 || geteuid() == 0)
        return Error("becoming user '" + user.name + "': root could be regained");
    prctl(PR_SET_DUMPABLE, 0);  // reset by the uid change
    return ok();
}

}  // namespace attache::agent
