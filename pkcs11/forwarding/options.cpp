#include "pkcs11/forwarding/options.h"

#include <errno.h>

#include <toml++/toml.h>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace attache::forwarding {
namespace {

// Larger configuration files are refused: this one holds a few lines.
constexpr std::streamsize kMaxConfigSize = 64 * 1024;

std::string trim(std::string_view s) {
    size_t b = 0;
    size_t e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        --e;
    return std::string(s.substr(b, e - b));
}

Status add_type(std::string_view word, Options& o) {
    if (word == "rsa") {
        o.hide_rsa = true;
    } else if (word == "ec" || word == "ecdsa") {
        o.hide_ec = true;
    } else if (word == "ed25519" || word == "eddsa") {
        o.hide_ed25519 = true;
    } else {
        return Error("unknown key type '" + std::string(word) + "' (expected rsa, ec or ed25519)");
    }
    return ok();
}

Status read_list(const toml::node& node, const std::string& where, Options& o) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr)
        return Error(where + ": hide_key_types must be an array of strings");
    for (const toml::node& item : *arr) {
        auto s = item.value<std::string>();
        if (!s || item.type() != toml::node_type::string)
            return Error(where + ": hide_key_types must be an array of strings");
        if (Status st = add_type(*s, o); !st)
            return std::move(st).error().context(where);
    }
    return ok();
}

std::string config_path() {
    if (const char* p = std::getenv("ATTACHE_PKCS11_CONFIG"); p && *p)
        return p;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
        return std::string(x) + "/attache/pkcs11.toml";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.config/attache/pkcs11.toml";
    return {};
}

std::string program_name() {
    // glibc's short name of argv[0]: "openssl", "ssh-pkcs11-helper", "firefox-esr".
    return program_invocation_short_name ? program_invocation_short_name : "";
}

}  // namespace

bool Options::hides(protocol::KeyType type) const {
    switch (type) {
        case protocol::KeyType::rsa:
            return hide_rsa;
        case protocol::KeyType::ec:
            return hide_ec;
        case protocol::KeyType::ed25519:
            return hide_ed25519;
    }
    return false;
}

std::string Options::describe() const {
    std::string out;
    auto add = [&](bool on, const char* name) {
        if (on)
            out += (out.empty() ? "" : ",") + std::string(name);
    };
    add(hide_rsa, "rsa");
    add(hide_ec, "ec");
    add(hide_ed25519, "ed25519");
    return out.empty() ? "none" : out;
}

Status parse_hide_list(std::string_view list, Options& options) {
    while (!list.empty()) {
        const size_t comma = list.find(',');
        const std::string word = trim(list.substr(0, comma));
        if (!word.empty()) {
            ATTACHE_CHECK(add_type(word, options));
        }
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
    }
    return ok();
}

Result<Options> parse_config(std::string_view text, std::string_view program,
                             const std::string& origin) {
    toml::table table;
    try {
        table = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return Error(origin + ": " + std::string(e.description()));
    }
    Options o;
    for (const auto& [key, node] : table) {
        if (key == "hide_key_types") {
            ATTACHE_CHECK(read_list(node, origin, o));
        } else if (key == "program") {
            const toml::table* programs = node.as_table();
            if (programs == nullptr)
                return Error(origin + ": [program.NAME] sections expected");
            for (const auto& [name, section] : *programs) {
                const toml::table* t = section.as_table();
                if (t == nullptr)
                    return Error(origin + ": program." + std::string(name.str()) +
                                 " must be a section");
                for (const auto& [k, v] : *t) {
                    const std::string where = origin + ": program." + std::string(name.str());
                    if (k != "hide_key_types")
                        return Error(where + ": unknown key '" + std::string(k.str()) + "'");
                    if (name.str() == program) {
                        ATTACHE_CHECK(read_list(v, where, o));
                    } else {
                        Options ignored;
                        ATTACHE_CHECK(read_list(v, where, ignored));
                    }
                }
            }
        } else {
            return Error(origin + ": unknown key '" + std::string(key.str()) + "'");
        }
    }
    return o;
}

bool is_openssh(std::string_view program) {
    return program == "ssh" || program == "ssh-add" || program == "ssh-agent" ||
           program == "ssh-keygen" || program == "ssh-pkcs11-helper";
}

LoadedOptions load_options() {
    LoadedOptions out;
    out.options.signing_keys_only = is_openssh(program_name());
    if (const char* env = std::getenv("ATTACHE_PKCS11_HIDE")) {
        out.source = "ATTACHE_PKCS11_HIDE";
        if (Status s = parse_hide_list(env, out.options); !s) {
            out.options = Options{};
            out.options.signing_keys_only = is_openssh(program_name());
            out.problem = "ATTACHE_PKCS11_HIDE: " + s.error().message();
        }
        return out;
    }
    const std::string path = config_path();
    if (path.empty())
        return out;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno != ENOENT || std::getenv("ATTACHE_PKCS11_CONFIG") != nullptr)
            out.problem = path + ": cannot be read";
        return out;
    }
    std::string text(static_cast<size_t>(kMaxConfigSize) + 1, '\0');
    in.read(text.data(), kMaxConfigSize + 1);
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > static_cast<size_t>(kMaxConfigSize)) {
        out.problem = path + ": larger than 64 KiB";
        return out;
    }
    auto parsed = parse_config(text, program_name(), path);
    if (!parsed) {
        out.problem = parsed.error().message();
        return out;
    }
    parsed->signing_keys_only = out.options.signing_keys_only;
    out.options = *parsed;
    out.source = path;
    return out;
}

}  // namespace attache::forwarding
