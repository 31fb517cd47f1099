#pragma once

// What an application sees: key types it cannot use can be hidden (Debian 12's libp11 engine
// cannot enumerate a token holding an Ed25519 key, and openssl then crashes).
//
// Sources, first match wins:
//   ATTACHE_PKCS11_HIDE=ed25519[,rsa,ec]   environment (set but empty: hide nothing)
//   ATTACHE_PKCS11_CONFIG=FILE, else $XDG_CONFIG_HOME/attache/pkcs11.toml, else
//   ~/.config/attache/pkcs11.toml:
//       hide_key_types = ["ed25519"]         # in every application
//       [program.openssl]                    # only in programs named "openssl"
//       hide_key_types = ["ed25519"]
// The two lists of the file add up.

#include <string>
#include <string_view>
#include <vector>

#include "pkcs11/agent_protocol/messages.h"
#include "pkcs11/result.h"

namespace attache::forwarding {

struct Options {
    bool hide_rsa = false;
    bool hide_ec = false;
    bool hide_ed25519 = false;
    // OpenSSH's PKCS#11 provider (ssh -I, ssh-add -s, ssh-keygen -D) offers every public key
    // and certificate as an identity: keys that cannot sign (decryption, ECDH) are left out
    // for it, so that servers are never offered a key that cannot authenticate.
    bool signing_keys_only = false;

    bool hides(protocol::KeyType type) const;
    std::string describe() const;  // "rsa,ed25519" or "none"
};

// "ed25519,rsa": error names the unknown word.
Status parse_hide_list(std::string_view list, Options& options);
// A configuration file's text; `program` is the running program's short name.
Result<Options> parse_config(std::string_view text, std::string_view program,
                             const std::string& origin);

struct LoadedOptions {
    Options options;
    std::string source;   // where they came from, for the debug log
    std::string problem;  // a configuration error to report (the defaults are then used)
};
// Reads the environment and the configuration file.
LoadedOptions load_options();
// True for the programs of OpenSSH that load PKCS#11 modules.
bool is_openssh(std::string_view program);

}  // namespace attache::forwarding
