// attache pubkey: a key's public half, as PEM (SubjectPublicKeyInfo) or an SSH public key line.

#include "agent/ssh/keys.h"
#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "cli/output_option.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"
#include "pkcs11/public_key.h"

namespace attache::cli {
namespace {

struct PubkeyOptions {
    std::string key;
    std::string format = "pem";
    std::string out;
    bool json = false;
};

std::string public_key_text(const protocol::KeyEntry& key, const std::string& format) {
    if (key.spki.empty())
        fail(kKeyNotFound, "the card holds no public key for key " + key.id);
    auto pkey = p11::pkey_from_spki(key.spki);
    if (!pkey)
        fail(kFailure, "the card's public key for key " + key.id + " cannot be read",
             pkey.error().message());
    if (format == "pem") {
        auto pem = p11::spki_pem(pkey->get());
        if (!pem)
            fail(kFailure, "cannot write the public key as PEM", pem.error().message());
        return *pem;
    }
    auto line = ssh::authorized_keys_line(pkey->get(), key.label.empty() ? key.id : key.label);
    if (!line)
        fail(kFailure, "this key has no SSH form", line.error().message());
    return *line + "\n";
}

Report run_pubkey(const PubkeyOptions& o) {
    auto out = prepare_output(o.out);
    auto client = connect_agent();
    auto key = resolve_key(client, o.key);
    const std::string text = public_key_text(key, o.format);
    Report report;
    report.json = {{"key", key.id}, {"format", o.format}};
    if (o.json && out.is_stdout()) {
        report.json["public_key"] = text;
        return report;
    }
    commit_output(out, text);
    if (!out.is_stdout())
        report.json["out"] = out.path();
    return report;
}

}  // namespace

void add_pubkey_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<PubkeyOptions>();
    auto* cmd = app.add_subcommand("pubkey", "Print a key's public key");
    add_key_option(*cmd, o->key);
    cmd->add_option("--format", o->format, "pem (default) or ssh")
        ->check(CLI::IsMember({"pem", "ssh"}));
    add_out_option(*cmd, o->out, "Public key file");
    add_output_flags(*cmd, o->json);
    cmd->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return run_pubkey(*o); }); });
}

}  // namespace attache::cli
