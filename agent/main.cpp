// attache-agent: the per-user daemon that brokers every signature and decryption through the
// user's PKCS#11 token. See docs/architecture.md.

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "agent/audit/audit_sinks.h"
#include "agent/audit/user_log_reader.h"
#include "agent/config/config.h"
#include "agent/core/broker/broker.h"
#include "agent/core/log.h"
#include "agent/core/token_manager.h"
#include "agent/managed/holder_session_locks.h"
#include "agent/managed/manifest_holders.h"
#include "agent/managed/system_setup.h"
#include "agent/pinentry/pinentry.h"
#include "agent/policy/managed_policy_text.h"
#include "agent/policy/policy_loader.h"
#include "agent/server/native_handler.h"
#include "agent/server/server.h"
#include "agent/server/socket_dir.h"
#include "agent/server/ssh_handler.h"
#include "agent/workstation/daemon.h"
#include "agent/workstation/journal.h"
#include "agent/workstation/login_sessions.h"
#include "agent/workstation/logind.h"
#include "agent/workstation/seat_session_watch.h"
#include "agent/workstation/session_environment.h"
#include "agent/workstation/shell_env.h"
#include "agent/workstation/stop_agent.h"
#include "agent/workstation/systemd.h"
#include "pkcs11/agent_protocol/client.h"

namespace {

using namespace attache;
using namespace attache::agent;

constexpr const char* kVersion = "attache-agent 0.1.0";

// Before any module is loaded or PIN read: no core dumps, no ptrace or /proc/PID/mem by
// other processes of the same user.
void harden_process() {
    prctl(PR_SET_DUMPABLE, 0);
    rlimit none{0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

struct Options {
    bool foreground = false;
    std::string config;
    std::string admin_config;
    std::vector<std::string> modules;
    std::string socket;
    std::string ssh_socket;
    std::optional<std::string> pinentry;
    bool debug = false;
    bool kill = false;
    ShellSyntax syntax = ShellSyntax::sh;
    bool system = false;  // managed mode
    std::string config_dir = kSystemConfigDir;
};

// Connections to a socket whose protocol is switched off (systemd's socket unit still
// listens on ssh.sock when the configuration sets ssh_enabled = false): closed at once, so
// clients fail instead of waiting.
class RefusingHandler : public ConnectionHandler {
  public:
    void serve(int, const ClientFacts& client) override {
        log_info("refused a connection on the SSH socket from pid " + std::to_string(client.pid) +
                 ": ssh_enabled = false");
    }
};

// The sockets to serve: those systemd passed (matched to the configured paths), else bound
// here.
struct Sockets {
    std::optional<ListeningSocket> native;
    std::optional<ListeningSocket> ssh;
    bool native_inherited = false;
    bool ssh_inherited = false;
};

bool same_path(const std::string& a, const std::string& b) {
    return std::filesystem::path(a).lexically_normal() ==
           std::filesystem::path(b).lexically_normal();
}

// Personal mode: the user's own 0700 directory. Managed mode: root's, sockets open to every uid.
Status prepare_socket_dir(const std::filesystem::path& dir, bool system) {
    return system ? prepare_system_socket_dir(dir) : prepare_runtime_dir(dir);
}

Result<ListeningSocket> listen_here(const std::string& path, bool system) {
    ATTACHE_CHECK(prepare_socket_dir(std::filesystem::path(path).parent_path(), system));
    ATTACHE_TRY(ListeningSocket ls, listen_on(path));
    if (system && chmod(path.c_str(), 0666) != 0)
        return Error("chmod " + path + ": " + std::strerror(errno));
    return ls;
}

Result<Sockets> open_sockets(const Config& config, std::vector<InheritedSocket> inherited,
                             bool system) {
    Sockets out;
    for (const auto& s : inherited) {
        const bool native = same_path(s.path, config.socket);
        if (!native && !same_path(s.path, config.ssh_socket)) {
            return Error("systemd passed a socket on " + s.path + ", which is neither `socket` (" +
                         config.socket + ") nor `ssh_socket` (" + config.ssh_socket +
                         ") of the configuration; make attache-agent.socket "
                         "and agent.toml agree");
        }
        // systemd made the directory; it must still be ours alone.
        ATTACHE_CHECK(prepare_socket_dir(std::filesystem::path(s.path).parent_path(), system));
        ATTACHE_TRY(ListeningSocket ls, adopt_socket(s.fd, s.path));
        (native ? out.native : out.ssh) = std::move(ls);
        (native ? out.native_inherited : out.ssh_inherited) = true;
    }
    if (!out.native) {
        ATTACHE_TRY(ListeningSocket ls, listen_here(config.socket, system));
        out.native = std::move(ls);
    }
    if (!out.ssh && config.ssh_enabled) {
        ATTACHE_TRY(ListeningSocket ls, listen_here(config.ssh_socket, system));
        out.ssh = std::move(ls);
    }
    return out;
}

// Connections and module files need descriptors: the soft limit goes up to the hard one (the
// accept loop keeps headroom below it, agent/server/server.h).
void raise_fd_limit() {
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
}

// `attache-agent -k`: stops the agent of $ATTACHE_SOCK (or --socket) and prints the lines
// that unset the variables.
int kill_agent(const Options& opts) {
    const std::string socket = opts.socket.empty() ? protocol::default_socket_path() : opts.socket;
    auto stopped = stop_agent(socket);
    if (!stopped) {
        std::fprintf(stderr, "attache-agent: %s\n", stopped.error().message().c_str());
        return 1;
    }
    const char* ssh = std::getenv("SSH_AUTH_SOCK");
    const bool ours =
        ssh != nullptr && !stopped->ssh_socket.empty() && same_path(ssh, stopped->ssh_socket);
    std::fputs(unset_commands(opts.syntax, ours, stopped->pid).c_str(), stdout);
    return 0;
}

// What the agent serves with, read before anything starts.
struct Setup {
    Config config;
    Policy policy;
    std::shared_ptr<CardHolders> holders;  // managed mode
    std::optional<BrokerUser> broker;      // managed mode
};

// Managed mode: root's files only; nothing from the command line can name a module, a
// configuration or a socket.
Result<Setup> system_setup(const Options& opts) {
    if (!opts.config.empty() || !opts.admin_config.empty() || !opts.modules.empty() ||
        !opts.socket.empty() || !opts.ssh_socket.empty() || opts.pinentry)
        return Error("--system takes its configuration from " + opts.config_dir +
                     "/agent.toml only: --config, --admin-config, --module, --socket, "
                     "--ssh-socket and --pinentry are refused");
    ATTACHE_CHECK(check_start_environment());
    ATTACHE_TRY(Config config, load_system_config(opts.config_dir));
    // No policy file: managed mode's own default (agent/policy/managed-policy.toml), which
    // refuses every client not at the holder's seat first.
    std::error_code ec;
    ATTACHE_TRY(Policy policy,
                std::filesystem::exists(config.policy, ec)
                    ? load_policy(config, {})
                    : Policy::parse(kManagedPolicyText, "the built-in managed policy"));
    ATTACHE_TRY(BrokerUser broker, find_broker_user(config.broker_user));
    ATTACHE_TRY(std::shared_ptr<ManifestHolders> holders,
                ManifestHolders::load({config.manifest, config.manifest_signer}));
    set_broker_environment(config, broker);
    return Setup{std::move(config), std::move(policy), std::move(holders), std::move(broker)};
}

int run(Options opts) {
    std::optional<Setup> managed;
    if (opts.system) {
        auto setup = system_setup(opts);
        if (!setup) {
            std::fprintf(stderr, "attache-agent: %s\n", setup.error().message().c_str());
            return 1;
        }
        managed = std::move(*setup);
        opts.foreground = true;  // a system service: systemd (or the admin's supervisor) runs it
        opts.config = opts.config_dir + "/agent.toml";
    }
    auto files = default_config_files();
    std::vector<std::filesystem::path> admin{
        opts.admin_config.empty() ? files.front() : std::filesystem::path(opts.admin_config)};
    std::vector<std::filesystem::path> user;
    if (!opts.config.empty()) {
        user.push_back(opts.config);
    } else if (files.size() > 1) {
        user.push_back(files[1]);
    }
    auto config = managed ? Result<Config>(managed->config) : load_config(admin, user);
    if (!config) {
        std::fprintf(stderr, "attache-agent: %s\n", config.error().message().c_str());
        return 1;
    }
    // The admin's policy, with the user's layered on top (stricter only); a file that does not
    // parse stops the agent rather than leaving it without rules.
    auto policy = managed ? Result<Policy>(managed->policy)
                          : load_policy(*config, default_user_policy_file());
    if (!policy) {
        std::fprintf(stderr, "attache-agent: %s\n", policy.error().message().c_str());
        return 1;
    }
    if (!opts.config.empty() && !std::filesystem::exists(opts.config)) {
        std::fprintf(stderr, "attache-agent: %s: no such configuration file\n",
                     opts.config.c_str());
        return 1;
    }
    if (!opts.modules.empty() && !managed)
        config->modules = opts.modules;
    if (!opts.socket.empty())
        config->socket = opts.socket;
    if (!opts.ssh_socket.empty())
        config->ssh_socket = opts.ssh_socket;
    if (config->socket.empty())
        config->socket = default_runtime_dir() / "agent.sock";
    if (config->ssh_socket.empty()) {
        // Beside the native socket, in the directory checked for both.
        config->ssh_socket = std::filesystem::path(config->socket).parent_path() / "ssh.sock";
    }
    if (opts.pinentry)
        config->pinentry = *opts.pinentry;
    if (opts.debug)
        set_log_level(LogLevel::debug);
    // Under systemd, standard error is the journal: send entries with structured fields.
    if (stderr_is_journal())
        log_to_journal();

    // Socket activation: the sockets systemd passed (read before anything could fork).
    auto inherited = inherited_sockets();
    if (!inherited) {
        log_error(inherited.error().message());
        return 1;
    }
    std::optional<StartupReport> background;
    if (!opts.foreground && !notify_expected() && inherited->empty()) {
        auto report = go_to_background();
        if (!report) {
            log_error(report.error().message());
            return 1;
        }
        background = std::move(*report);
    }

    if (Status s = Server::block_signals(); !s) {
        log_error(s.error().message());
        return 1;
    }
    auto sockets = open_sockets(*config, std::move(*inherited), managed.has_value());
    if (!sockets) {
        log_error(sockets.error().message());
        return 1;
    }
    // Bound as root if started so; from here on the broker's own user, before any module runs.
    if (managed) {
        if (Status s = become_broker_user(*managed->broker); !s) {
            log_error(s.error().message());
            return 1;
        }
    }
    std::optional<ListeningSocket>& native = sockets->native;
    std::optional<ListeningSocket>& ssh = sockets->ssh;
    const bool serve_ssh = ssh && config->ssh_enabled;
    // Sockets systemd passed stay: systemd keeps listening and starts the agent again.
    auto remove_sockets = [&] {
        std::error_code ec;
        if (!sockets->native_inherited)
            std::filesystem::remove(native->path, ec);
        native->fd.reset();
        if (ssh) {
            if (!sockets->ssh_inherited)
                std::filesystem::remove(ssh->path, ec);
            ssh->fd.reset();
        }
    };

    // Personal mode: audit lines in the agent's log. Managed mode: also the system journal and
    // the chained file only the broker can append to with a valid MAC (opened as its user).
    audit::AuditConfig audit_config;
    if (managed) {
        audit_config.journal = true;
        audit_config.file = config->audit_file;
        audit_config.key_file = config->audit_key;
    }
    auto audit_sink = audit::make_audit_sink(audit_config);
    if (!audit_sink) {
        log_error("the audit: " + audit_sink.error().message());
        remove_sockets();
        return 1;
    }

    TokenManager tokens(*config, [](const std::string& m) { log_info(m); });
    if (Status s = tokens.start(); !s) {
        log_error(s.error().message());
        remove_sockets();
        return 1;
    }
    std::shared_ptr<UserPrompt> prompt;
    if (!config->pinentry.empty()) {
        PinentryOptions pinentry;
        pinentry.program = config->pinentry;
        // Started by systemd, the agent may predate the desktop's DISPLAY: ask the user
        // manager for the session's variables at each prompt.
        if (std::getenv("INVOCATION_ID") != nullptr)
            pinentry.session_environment = user_manager_session_variables;
        if (auto found = find_program(config->pinentry); !found) {
            log_warning("PIN prompts will fail: " + found.error().message());
        }
        prompt = std::make_shared<PinentryPrompter>(std::move(pinentry));
    }
    tokens.start_monitor();

    LogindHandlers logind_handlers;
    if (config->lock_on_screen_lock) {
        logind_handlers.on_lock = [&tokens] {
            const int n = tokens.lock_all("screen lock");
            log_info("screen lock: locked " + std::to_string(n) + " token(s)");
        };
    }
    if (config->lock_on_suspend) {
        logind_handlers.on_sleep = [&tokens] {
            const int n = tokens.lock_all("suspend");
            log_info("suspend: locked " + std::to_string(n) + " token(s)");
        };
    }
    const char* session = std::getenv("XDG_SESSION_ID");
    LogindWatcher logind(std::move(logind_handlers), session ? session : "");
    // Managed mode serves many users: every seat session is followed, and a holder's cards
    // lock when the holder's session locks, is switched away from or ends.
    std::optional<HolderSessionLocks> holder_locks;
    SeatSessionHandlers seat_handlers;
    if (managed) {
        holder_locks.emplace(tokens, managed->holders, **audit_sink);
        if (config->lock_on_screen_lock) {
            seat_handlers.on_session = [&holder_locks](const SessionEvent& e) {
                holder_locks->lock_holder(e.uid, lock_reason_of(e.change), e.session_id);
            };
        }
        if (config->lock_on_suspend) {
            seat_handlers.on_sleep = [&holder_locks](const std::vector<uid_t>& users) {
                const int n = holder_locks->lock_all_for_sleep(users);
                log_info("sleep: locked " + std::to_string(n) + " card(s)");
            };
        }
    }
    SeatSessionWatcher seat_sessions(std::move(seat_handlers));
    if (managed && (config->lock_on_screen_lock || config->lock_on_suspend)) {
        if (Status s = seat_sessions.start(); !s)
            log_warning(s.error().message() +
                        "; session locks, logouts and sleep will not lock the holders' cards");
    } else if (config->lock_on_screen_lock || config->lock_on_suspend) {
        if (Status s = logind.start(); !s)
            log_warning(s.error().message() + "; screen lock and suspend will not lock the tokens");
    }

    AgentIdentity identity{kVersion, config->socket, serve_ssh ? config->ssh_socket : ""};
    Broker broker(BrokerParts{tokens, std::make_shared<const Policy>(std::move(*policy)),
                              **audit_sink, prompt, config->prompt_on_use, proc_start_time,
                              managed ? managed->holders : nullptr});
    // `attache log`: managed mode's callers read their own records of the chained file.
    std::optional<audit::ChainedFileLogReader> log_reader;
    if (managed && !config->audit_file.empty())
        log_reader.emplace(config->audit_file);
    NativeFrontend native_frontend(broker, identity, log_reader ? &*log_reader : nullptr);
    NativeHandler native_handler(native_frontend);
    LogindSessions sessions;  // each client's login session, local or remote
    ServerOptions server_options;
    server_options.sessions = &sessions;
    server_options.allow_root = config->allow_root;
    server_options.any_uid = managed.has_value();
    server_options.on_lock_signal = [&tokens] { tokens.lock_all("SIGUSR1"); };
    Server server(server_options);
    server.add_listener(native->fd.get(), native_handler);
    SshHandler ssh_handler(broker, {config->allow_ssh_rsa_sha1, config->ssh_add_allowed_modules});
    RefusingHandler refuse_ssh;
    if (ssh)
        server.add_listener(ssh->fd.get(),
                            serve_ssh ? static_cast<ConnectionHandler&>(ssh_handler) : refuse_ssh);

    const std::string serving = "serving " + config->socket +
                                (serve_ssh ? " and " + config->ssh_socket : std::string()) +
                                " with " + std::to_string(tokens.tokens().size()) + " token(s)";
    log_info(std::string(kVersion) + " " + serving +
             (sockets->native_inherited ? " (sockets from systemd)" : ""));
    if (background) {
        AgentEnvironment env{config->socket, serve_ssh ? config->ssh_socket : "", getpid()};
        auto commands = export_commands(opts.syntax, env);
        if (!commands) {
            log_error(commands.error().message());
            remove_sockets();
            return 1;
        }
        log_info("running in the background, logging to " + background->log_destination());
        background->ready(*commands);
    }
    notify_ready(serving);

    Status ran = server.run();
    notify_stopping();
    logind.stop();
    seat_sessions.stop();
    remove_sockets();
    const int locked = tokens.lock_all("agent exit");
    if (locked > 0)
        log_info("logged out of " + std::to_string(locked) + " token(s)");
    if (server.active_connections() > 0) {
        // Threads are stuck in a module call; finalizing under them would be unsafe.
        log_warning("exiting without finalizing the PKCS#11 module");
        std::fflush(stderr);
        _exit(ran ? 0 : 1);
    }
    tokens.stop();
    if (!ran) {
        log_error(ran.error().message());
        return 1;
    }
    log_info("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    harden_process();
    raise_fd_limit();

    Options opts;
    CLI::App app{
        "attache-agent: brokers every signature and decryption through your smartcard or "
        "token.\nKeys never leave the token; they are used only while it is present and "
        "unlocked with its PIN.",
        "attache-agent"};
    app.add_flag("-f,--foreground", opts.foreground,
                 "Stay in the foreground and log to standard error (systemd runs it so). "
                 "Without it the agent forks, prints the commands that set ATTACHE_SOCK (and "
                 "SSH_AUTH_SOCK when it serves the SSH socket) for `eval \"$(attache-agent)\"`, "
                 "and logs to the journal, or to $XDG_STATE_HOME/attache/agent.log "
                 "(~/.local/state/attache/agent.log) when no journal runs");
    bool csh = false;
    bool fish = false;
    bool sh = false;
    app.add_flag("--sh", sh, "Print the commands in sh syntax (the default)");
    app.add_flag("-c,--csh", csh, "Print the commands in csh syntax");
    app.add_flag("--fish", fish, "Print the commands in fish syntax");
    app.add_flag("-k,--kill", opts.kill,
                 "Stop the agent of $ATTACHE_SOCK (or --socket) and print the commands that "
                 "unset the variables");
    app.add_option("--config", opts.config,
                   "Configuration file instead of ~/.config/attache/agent.toml "
                   "(/etc/attache/agent.toml is always read first)");
    app.add_option("--admin-config", opts.admin_config,
                   "The administrator's file instead of /etc/attache/agent.toml (for tests and "
                   "staging; it is no barrier against the user, who runs the agent)");
    app.add_option("-m,--module", opts.modules,
                   "PKCS#11 module to load (path, p11-kit module file or registered name); "
                   "repeatable; replaces `modules` of the configuration");
    app.add_option("-s,--socket", opts.socket,
                   "Native protocol socket (default $XDG_RUNTIME_DIR/attache/agent.sock); not "
                   "ssh-agent's -s: sh syntax is the default");
    app.add_option("--ssh-socket", opts.ssh_socket,
                   "SSH agent protocol socket (default $XDG_RUNTIME_DIR/attache/ssh.sock)");
    app.add_option("--pinentry", opts.pinentry,
                   "pinentry program the agent asks for PINs with (default: `pinentry` of the "
                   "configuration, itself `pinentry` in PATH); \"\" never prompts");
    app.add_flag("--debug", opts.debug, "Log debug messages");
    app.add_flag("--system", opts.system,
                 "Managed mode: the broker of a managed workstation, run by systemd's system "
                 "instance as its own user (`broker_user`, default attache) or started as root "
                 "(it binds /run/attache/agent.sock and ssh.sock, then becomes that user). "
                 "Configuration from /etc/attache/agent.toml only (root's files; modules by "
                 "absolute path); cards served to their holders by the signed card manifest");
    app.add_option("--config-dir", opts.config_dir,
                   "With --system: the configuration directory instead of /etc/attache (tests "
                   "and staging; it must be root's alone like /etc/attache)");
    app.set_version_flag("--version", kVersion);
    CLI11_PARSE(app, argc, argv);
    if (int(sh) + int(csh) + int(fish) > 1) {
        std::fprintf(stderr, "attache-agent: choose one of --sh, --csh and --fish\n");
        return 2;
    }
    opts.syntax = csh ? ShellSyntax::csh : fish ? ShellSyntax::fish : ShellSyntax::sh;
    if (opts.kill)
        return kill_agent(opts);
    return run(opts);
}
