#include "agent/config/config.h"

#include <unistd.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pkcs11/uri.h"

namespace attache::agent {
namespace {

std::string where(const std::string& origin, const toml::node& node) {
    const auto& src = node.source();
    return origin + ":" + std::to_string(src.begin.line);
}

Error bad_value(const std::string& origin, const std::string& key, const toml::node& node,
                const std::string& expected) {
    return Error(where(origin, node) + ": '" + key + "' must be " + expected);
}

template <typename T>
Result<T> get(const std::string& origin, const std::string& key, const toml::node& node,
              const std::string& expected) {
    auto v = node.value<T>();
    if (!v || (std::is_same_v<T, int64_t> && node.type() != toml::node_type::integer)) {
        return bad_value(origin, key, node, expected);
    }
    return *v;
}

Result<std::vector<std::string>> get_strings(const std::string& origin, const std::string& key,
                                             const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr)
        return bad_value(origin, key, node, "an array of strings");
    std::vector<std::string> out;
    for (const toml::node& item : *arr) {
        auto s = item.value<std::string>();
        if (!s || item.type() != toml::node_type::string) {
            return bad_value(origin, key, item, "an array of strings");
        }
        out.push_back(*s);
    }
    return out;
}

Result<std::chrono::seconds> get_seconds(const std::string& origin, const std::string& key,
                                         const toml::node& node) {
    ATTACHE_TRY(int64_t v, get<int64_t>(origin, key, node, "a whole number of seconds >= 0"));
    if (v < 0 || v > 366LL * 24 * 3600) {
        return bad_value(origin, key, node, "a whole number of seconds between 0 and a year");
    }
    return std::chrono::seconds(v);
}

Status apply_key(Config& c, const std::string& origin, const std::string& key,
                 const toml::node& node, bool user_file) {
    if (key == "modules") {
        ATTACHE_TRY(c.modules, get_strings(origin, key, node));
        if (c.modules.empty())
            return bad_value(origin, key, node, "a non-empty array");
    } else if (key == "tokens") {
        ATTACHE_TRY(c.tokens, get<std::string>(origin, key, node, "a PKCS#11 URI string"));
        auto uri = p11::Uri::parse(c.tokens);
        if (!uri)
            return Error(where(origin, node) + ": 'tokens': " + uri.error().message());
    } else if (key == "idle_lock_seconds") {
        ATTACHE_TRY(c.idle_lock, get_seconds(origin, key, node));
    } else if (key == "max_unlocked_seconds") {
        ATTACHE_TRY(c.max_unlocked, get_seconds(origin, key, node));
    } else if (key == "socket") {
        ATTACHE_TRY(c.socket, get<std::string>(origin, key, node, "a path string"));
    } else if (key == "ssh_socket") {
        ATTACHE_TRY(c.ssh_socket, get<std::string>(origin, key, node, "a path string"));
    } else if (key == "ssh_enabled") {
        ATTACHE_TRY(c.ssh_enabled, get<bool>(origin, key, node, "true or false"));
    } else if (key == "allow_extractable_keys") {
        ATTACHE_TRY(c.allow_extractable_keys, get<bool>(origin, key, node, "true or false"));
    } else if (key == "allow_root") {
        ATTACHE_TRY(c.allow_root, get<bool>(origin, key, node, "true or false"));
    } else if (key == "allow_ssh_rsa_sha1") {
        ATTACHE_TRY(c.allow_ssh_rsa_sha1, get<bool>(origin, key, node, "true or false"));
    } else if (key == "workers_per_token") {
        ATTACHE_TRY(int64_t v, get<int64_t>(origin, key, node, "a number from 0 to 64"));
        if (v < 0 || v > 64)
            return bad_value(origin, key, node, "a number from 0 to 64");
        c.workers_per_token = static_cast<unsigned>(v);
    } else if (key == "helpers_per_token") {
        ATTACHE_TRY(int64_t v, get<int64_t>(origin, key, node, "a number from 0 to 16"));
        if (v < 0 || v > 16)
            return bad_value(origin, key, node, "a number from 0 to 16");
        c.helpers_per_token = static_cast<unsigned>(v);
    } else if (key == "poll_interval_ms") {
        ATTACHE_TRY(int64_t v, get<int64_t>(origin, key, node, "milliseconds from 50 to 60000"));
        if (v < 50 || v > 60000) {
            return bad_value(origin, key, node, "milliseconds from 50 to 60000");
        }
        c.poll_interval = std::chrono::milliseconds(v);
    } else if (key == "module_process") {
        ATTACHE_TRY(std::string v,
                    get<std::string>(origin, key, node, "\"helper\" or \"in-process\""));
        if (v == "helper")
            c.module_process = ModuleProcess::helper;
        else if (v == "in-process")
            c.module_process = ModuleProcess::in_process;
        else
            return bad_value(origin, key, node, "\"helper\" or \"in-process\"");
    } else if (key == "module_helper") {
        ATTACHE_TRY(c.module_helper, get<std::string>(origin, key, node, "a path string"));
    } else if (key == "module_call_timeout_ms") {
        ATTACHE_TRY(int64_t v, get<int64_t>(origin, key, node, "milliseconds from 100 to 3600000"));
        if (v < 100 || v > 3'600'000)
            return bad_value(origin, key, node, "milliseconds from 100 to 3600000");
        c.module_call_timeout = std::chrono::milliseconds(v);
    } else if (key == "pinentry") {
        ATTACHE_TRY(c.pinentry, get<std::string>(origin, key, node, "a program path or name"));
    } else if (key == "prompt_on_use") {
        ATTACHE_TRY(c.prompt_on_use, get<bool>(origin, key, node, "true or false"));
    } else if (key == "lock_on_screen_lock") {
        ATTACHE_TRY(c.lock_on_screen_lock, get<bool>(origin, key, node, "true or false"));
    } else if (key == "lock_on_suspend") {
        ATTACHE_TRY(c.lock_on_suspend, get<bool>(origin, key, node, "true or false"));
    } else if (key == "ssh_add_allowed_modules") {
        if (user_file) {
            return Error(where(origin, node) +
                         ": 'ssh_add_allowed_modules' may only be set in the admin's file");
        }
        ATTACHE_TRY(c.ssh_add_allowed_modules, get_strings(origin, key, node));
    } else if (key == "policy") {
        if (user_file) {
            return Error(where(origin, node) +
                         ": 'policy' may only be set in the admin's file (your own rules go in "
                         "~/.config/attache/policy.toml)");
        }
        ATTACHE_TRY(c.policy, get<std::string>(origin, key, node, "a path string"));
    } else if (key == "broker_user" || key == "manifest" || key == "manifest_signer" ||
               key == "module_environment" || key == "audit_file" || key == "audit_key") {
        if (user_file)
            return Error(where(origin, node) + ": '" + key +
                         "' may only be set in the admin's file");
        if (key == "module_environment") {
            ATTACHE_TRY(c.module_environment, get_strings(origin, key, node));
            for (const auto& v : c.module_environment) {
                if (v.find('=') == std::string::npos || v.front() == '=')
                    return bad_value(origin, key, node, "an array of \"NAME=VALUE\" strings");
            }
        } else {
            ATTACHE_TRY(std::string value, get<std::string>(origin, key, node, "a string"));
            (key == "broker_user"  ? c.broker_user
             : key == "manifest"   ? c.manifest
             : key == "audit_file" ? c.audit_file
             : key == "audit_key"  ? c.audit_key
                                   : c.manifest_signer) = value;
        }
    } else if (key == "locked") {
        if (user_file) {
            return Error(where(origin, node) + ": 'locked' may only be set in the admin's file");
        }
        ATTACHE_TRY(c.locked, get_strings(origin, key, node));
    } else {
        return Error(where(origin, node) + ": unknown key '" + key + "'");
    }
    return ok();
}

Status apply_file(Config& config, const std::filesystem::path& path, bool user_file) {
    std::ifstream in(path);
    if (!in)
        return ok();  // missing files are skipped
    std::stringstream ss;
    ss << in.rdbuf();
    return apply_config_text(config, ss.str(), path.string(), user_file);
}

}  // namespace

std::vector<std::filesystem::path> default_config_files() {
    std::vector<std::filesystem::path> files{"/etc/attache/agent.toml"};
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
        files.push_back(std::filesystem::path(xdg) / "attache/agent.toml");
    } else if (const char* home = std::getenv("HOME"); home && *home) {
        files.push_back(std::filesystem::path(home) / ".config/attache/agent.toml");
    }
    return files;
}

Status apply_config_text(Config& config, std::string_view text, const std::string& origin,
                         bool user_file) {
    toml::table table;
    try {
        table = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return Error(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
    }
    for (const auto& [k, node] : table) {
        const std::string key(k.str());
        if (user_file &&
            std::find(config.locked.begin(), config.locked.end(), key) != config.locked.end()) {
            return Error(where(origin, node) + ": '" + key +
                         "' is locked by the administrator's /etc/attache/agent.toml");
        }
        ATTACHE_CHECK(apply_key(config, origin, key, node, user_file));
    }
    return ok();
}

Result<Config> load_config(const std::vector<std::filesystem::path>& admin_files,
                           const std::vector<std::filesystem::path>& user_files) {
    Config config;
    for (const auto& f : admin_files)
        ATTACHE_CHECK(apply_file(config, f, false));
    for (const auto& f : user_files)
        ATTACHE_CHECK(apply_file(config, f, true));
    return config;
}

}  // namespace attache::agent
