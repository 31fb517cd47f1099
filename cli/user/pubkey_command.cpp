// attache pubkey: a key's public half, as PEM (SubjectPublicKeyInfo) or an SSH public key line.

#include <iostream>

#include "agent/ssh/keys.h"
#include "cli/exit_codes.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"
#include "pkcs11/public_key.h"

namespace attache::cli {
namespace {

struct PubkeyOptions {
    std::string key;
    std::string format = "pem";
};

int run_pubkey(const PubkeyOptions& o) {
    auto client = connect_agent();
    if (!client)
        return kAgentNotRunning;
    int exit_code = kFailure;
    auto key = resolve_key(*client, o.key, exit_code);
    if (!key)
        return exit_code;
    if (key->spki.empty()) {
        return report(Error("the token holds no public key for key " + key->id), kKeyNotFound);
    }
    auto pkey = p11::pkey_from_spki(key->spki);
    if (!pkey)
        return report(pkey.error(), kFailure);
    if (o.format == "pem") {
        auto pem = p11::spki_pem(pkey->get());
        if (!pem)
            return report(pem.error(), kFailure);
        std::cout << *pem;
        return kOk;
    }
    std::string comment = key->label.empty() ? key->id : key->label;
    auto line = ssh::authorized_keys_line(pkey->get(), comment);
    if (!line)
        return report(line.error(), kFailure);
    std::cout << *line << "\n";
    return kOk;
}

}  // namespace

void add_pubkey_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<PubkeyOptions>();
    auto* cmd = app.add_subcommand("pubkey", "Print a key's public key");
    cmd->add_option("--key", o->key, "Key id (from `attache keys`) or PKCS#11 URI")->required();
    cmd->add_option("--format", o->format, "pem (default) or ssh")
        ->check(CLI::IsMember({"pem", "ssh"}));
    cmd->callback([o, &exit_code] { exit_code = run_pubkey(*o); });
}

}  // namespace attache::cli
