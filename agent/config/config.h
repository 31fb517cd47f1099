#pragma once

// attache-agent's configuration: /etc/attache/agent.toml (the admin's), then
// ~/.config/attache/agent.toml (the user's; its values win unless the admin lists the key in
// `locked`), then the command line. See docs/user-guide.md for every key.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "pkcs11/result.h"

namespace attache::agent {

// Where the agent runs each PKCS#11 module.
enum class ModuleProcess {
    helper,      // a process of its own per module (attache-module-helper): a crash or a hang
                 // costs that module's tokens, never the agent
    in_process,  // inside the agent (tests, benchmarks)
};

struct Config {
    // PKCS#11 modules the agent loads: paths, p11-kit module file names or registered names.
    // Only the admin's or the user's configuration or command line names them; never a client.
    std::vector<std::string> modules{"p11-kit-proxy.so"};
    // Where the modules run (module_process = "helper", the default, | "in-process").
    ModuleProcess module_process = ModuleProcess::helper;
    // The helper executable; empty: the one installed beside the agent
    // (p11::Module::default_helper_path()).
    std::string module_helper;
    // A module call in a helper that takes longer is taken for a hang: the helper is killed
    // and started again.
    std::chrono::milliseconds module_call_timeout{60'000};
    // PKCS#11 URI choosing the tokens (and, with object attributes, the keys) served.
    std::string tokens = "pkcs11:";
    // Lock a token after this long without an operation; 0 = never.
    std::chrono::seconds idle_lock{15 * 60};
    // Lock a token this long after unlocking, however busy; 0 = never.
    std::chrono::seconds max_unlocked{0};
    std::string socket;      // empty: $XDG_RUNTIME_DIR/attache/agent.sock
    std::string ssh_socket;  // empty: $XDG_RUNTIME_DIR/attache/ssh.sock
    bool ssh_enabled = true;
    // Serve keys that are extractable or were ever extractable (a copy may exist elsewhere).
    bool allow_extractable_keys = false;
    // Let root's processes use the agent (root can read the agent's memory anyway, but it is
    // refused by default so that mistakes stay visible).
    bool allow_root = false;
    // SSH signatures with SHA-1 ("ssh-rsa"): off, OpenSSH itself disables them.
    bool allow_ssh_rsa_sha1 = false;
    // Parallel PKCS#11 sessions per token; 0 = max(CPU cores, 8), capped by the token.
    unsigned workers_per_token = 0;
    // Helper processes serving one software token or HSM (module_process = "helper"), each
    // logged in at unlock with the one PIN entry; 0 = one per CPU core, at most 4. Cards in a
    // reader always have one (agent/core/helper_pool.h).
    unsigned helpers_per_token = 0;
    // How often tokens are checked for insertion and removal.
    std::chrono::milliseconds poll_interval{500};
    // PKCS#11 modules `ssh-add -s` may name (canonical paths). Admin's file only: a client
    // naming a module to load was remote code execution in OpenSSH (CVE-2023-38408).
    std::vector<std::string> ssh_add_allowed_modules;
    // The pinentry program the agent asks for PINs with (path, or a name looked up in PATH);
    // empty: never prompt (PINs come only with `attache unlock` or `ssh-add -X`).
    std::string pinentry = "pinentry";
    // A signature, decryption or key agreement on a locked token asks for the PIN through
    // pinentry (one prompt per token, however many requests wait) instead of failing.
    bool prompt_on_use = true;
    // Lock every token when logind says the session locks its screen, or the machine suspends.
    bool lock_on_screen_lock = true;
    bool lock_on_suspend = true;
    // The admin's policy file (docs/policy.md); missing: the built-in default. Admin's file
    // only: the user's own ~/.config/attache/policy.toml can only add to it, never replace it.
    std::string policy = "/etc/attache/policy.toml";
    // Keys of the user's file the admin's file forbids overriding.
    std::vector<std::string> locked;

    // Managed mode (`attache-agent --system`; admin's file only, ignored in personal mode).
    std::string broker_user = "attache";                   // the system user the broker runs as
    std::string manifest = "/etc/attache/cards.manifest";  // and cards.manifest.sig beside it
    std::string manifest_signer = "/etc/attache/manifest-signer.pem";
    // NAME=VALUE pairs the modules get (the broker's environment is otherwise cleared), e.g.
    // "OPENSC_CONF=/etc/attache/opensc.conf".
    std::vector<std::string> module_environment;
    // The chained audit file and its HMAC key (the broker's user's alone, mode 0400).
    std::string audit_file = "/var/log/attache/audit.log";
    std::string audit_key = "/etc/attache/audit.key";
};

// The files read, in order; missing files are skipped.
std::vector<std::filesystem::path> default_config_files();

// Reads each existing file over the defaults. Errors name the file, line and key.
Result<Config> load_config(const std::vector<std::filesystem::path>& admin_files,
                           const std::vector<std::filesystem::path>& user_files);

// Parses one TOML document over `config` (for tests). `origin` names it in errors.
Status apply_config_text(Config& config, std::string_view text, const std::string& origin,
                         bool user_file);

}  // namespace attache::agent
