// attache-agent: the per-user daemon that brokers every signature and decryption through the
// user's PKCS#11 token. See docs/architecture.md.

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "agent/config/config.h"
#include "agent/core/dispatcher.h"
#include "agent/core/log.h"
#include "agent/core/token_manager.h"
#include "agent/server/native_handler.h"
#include "agent/server/server.h"
#include "agent/server/socket_dir.h"
#include "agent/server/ssh_handler.h"

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
    std::vector<std::string> modules;
    std::string socket;
    std::string ssh_socket;
    bool debug = false;
};

// Forks into the background; the parent waits until the child is serving (or failed),
// prints the environment line like ssh-agent does, and exits with the child's verdict.
// Returns the fd the child writes its readiness byte to.
int daemonize(const std::string& socket) {
    int ready[2];
    if (pipe(ready) != 0) {
        std::perror("attache-agent: pipe");
        std::exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        std::perror("attache-agent: fork");
        std::exit(1);
    }
    if (pid > 0) {
        close(ready[1]);
        char status = 0;
        ssize_t n = read(ready[0], &status, 1);
        if (n == 1 && status == 'R') {
            std::printf("ATTACHE_SOCK=%s; export ATTACHE_SOCK;\necho Agent pid %d;\n",
                        socket.c_str(), static_cast<int>(pid));
            std::exit(0);
        }
        std::exit(1);
    }
    close(ready[0]);
    setsid();
    return ready[1];
}

void signal_ready(int fd) {
    if (fd < 0)
        return;
    char r = 'R';
    (void)!write(fd, &r, 1);
    close(fd);
}

int run(const Options& opts) {
    auto files = default_config_files();
    std::vector<std::filesystem::path> admin{files.front()};
    std::vector<std::filesystem::path> user;
    if (!opts.config.empty()) {
        user.push_back(opts.config);
    } else if (files.size() > 1) {
        user.push_back(files[1]);
    }
    auto config = load_config(admin, user);
    if (!config) {
        std::fprintf(stderr, "attache-agent: %s\n", config.error().message().c_str());
        return 1;
    }
    if (!opts.config.empty() && !std::filesystem::exists(opts.config)) {
        std::fprintf(stderr, "attache-agent: %s: no such configuration file\n",
                     opts.config.c_str());
        return 1;
    }
    if (!opts.modules.empty())
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
    if (opts.debug)
        set_log_level(LogLevel::debug);

    int ready_fd = -1;
    if (!opts.foreground)
        ready_fd = daemonize(config->socket);

    for (const std::string& socket : {config->socket, config->ssh_socket}) {
        if (Status s = prepare_runtime_dir(std::filesystem::path(socket).parent_path()); !s) {
            log_error(s.error().message());
            return 1;
        }
    }
    if (Status s = Server::block_signals(); !s) {
        log_error(s.error().message());
        return 1;
    }
    auto native = listen_on(config->socket);
    if (!native) {
        log_error(native.error().message());
        return 1;
    }
    std::optional<ListeningSocket> ssh;
    if (config->ssh_enabled) {
        auto ssh_socket = listen_on(config->ssh_socket);
        if (!ssh_socket) {
            log_error(ssh_socket.error().message());
            return 1;
        }
        ssh = std::move(*ssh_socket);
    }
    auto remove_sockets = [&] {
        std::error_code ec;
        std::filesystem::remove(native->path, ec);
        native->fd.reset();
        if (ssh) {
            std::filesystem::remove(ssh->path, ec);
            ssh->fd.reset();
        }
    };

    TokenManager tokens(*config, [](const std::string& m) { log_info(m); });
    if (Status s = tokens.start(); !s) {
        log_error(s.error().message());
        remove_sockets();
        return 1;
    }
    tokens.start_monitor();

    AgentIdentity identity{kVersion, config->socket, ssh ? config->ssh_socket : ""};
    Dispatcher dispatcher(tokens, identity);
    NativeHandler native_handler(dispatcher);
    ServerOptions server_options;
    server_options.allow_root = config->allow_root;
    server_options.on_lock_signal = [&tokens] { tokens.lock_all("SIGUSR1"); };
    Server server(server_options);
    server.add_listener(native->fd.get(), native_handler);
    SshHandler ssh_handler(tokens, {config->allow_ssh_rsa_sha1, config->ssh_add_allowed_modules});
    if (ssh)
        server.add_listener(ssh->fd.get(), ssh_handler);

    log_info(std::string(kVersion) + " serving " + config->socket +
             (ssh ? " and " + config->ssh_socket : std::string()) + " with " +
             std::to_string(tokens.tokens().size()) + " token(s)");
    signal_ready(ready_fd);

    Status ran = server.run();
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

    Options opts;
    CLI::App app{
        "attache-agent: brokers every signature and decryption through your smartcard or "
        "token.\nKeys never leave the token; they are used only while it is present and "
        "unlocked with its PIN.",
        "attache-agent"};
    app.add_flag("-f,--foreground", opts.foreground,
                 "Stay in the foreground and log to standard error (systemd runs it so)");
    app.add_option("-c,--config", opts.config,
                   "Configuration file instead of ~/.config/attache/agent.toml "
                   "(/etc/attache/agent.toml is always read first)");
    app.add_option("-m,--module", opts.modules,
                   "PKCS#11 module to load (path, p11-kit module file or registered name); "
                   "repeatable; replaces `modules` of the configuration");
    app.add_option("-s,--socket", opts.socket,
                   "Native protocol socket (default $XDG_RUNTIME_DIR/attache/agent.sock)");
    app.add_option("--ssh-socket", opts.ssh_socket,
                   "SSH agent protocol socket (default $XDG_RUNTIME_DIR/attache/ssh.sock)");
    app.add_flag("--debug", opts.debug, "Log debug messages");
    app.set_version_flag("--version", kVersion);
    CLI11_PARSE(app, argc, argv);
    return run(opts);
}
