// attache keys: the keys the agent knows, with their ids, URIs and what they may do.

#include <openssl/sha.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/ssh/keys.h"
#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "cli/user/agent_access.h"
#include "cli/user/key_format.h"
#include "cli/user/user_commands.h"
#include "pkcs11/public_key.h"

namespace attache::cli {
namespace {

// "SHA256:..." as ssh-keygen -l prints it; empty for keys SSH cannot use (not for signing).
std::string ssh_fingerprint(const protocol::KeyEntry& k) {
    if (!(k.operations & protocol::kOpSign))
        return "";
    auto pkey = p11::pkey_from_spki(k.spki);
    if (!pkey)
        return "";
    auto blob = ssh::public_key_blob(pkey->get());
    return blob ? ssh::fingerprint_sha256(*blob) : "";
}

nlohmann::json to_json(const protocol::KeyEntry& k) {
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : operation_names(k.operations))
        ops.push_back(op);
    uint8_t fp[SHA256_DIGEST_LENGTH];
    SHA256(k.spki.data(), k.spki.size(), fp);
    const std::string not_after = certificate_not_after(k.certificate);
    return {{"id", k.id},
            {"uri", k.uri},
            {"label", k.label},
            {"cka_id", hex(k.cka_id)},
            {"token_label", k.token_label},
            {"token_serial", k.token_serial},
            {"type", key_type_name(k.type)},
            {"bits", k.bits},
            {"operations", ops},
            {"served", k.served},
            {"refusal", k.refusal},
            {"spki_sha256", k.spki.empty() ? "" : hex(fp, sizeof fp)},
            {"ssh_fingerprint", ssh_fingerprint(k)},
            {"has_certificate", !k.certificate.empty()},
            {"certificate_subject", certificate_subject(k.certificate)},
            {"certificate_not_after",
             not_after.empty() ? nlohmann::json() : nlohmann::json(not_after)}};
}

std::string keys_text(const std::vector<protocol::KeyEntry>& keys) {
    if (keys.empty())
        return "no keys: is your card inserted? (`attache status`)\n";
    std::ostringstream out;
    for (const auto& k : keys) {
        out << k.id << "  " << key_type_name(k.type) << "-" << k.bits << "  "
            << (k.label.empty() ? "(no label)" : k.label) << "  [token '" << k.token_label
            << "']\n";
        std::string ops;
        for (const auto& op : operation_names(k.operations))
            ops += (ops.empty() ? "" : ",") + op;
        out << "    " << (ops.empty() ? "no operations" : ops);
        if (auto fp = ssh_fingerprint(k); !fp.empty())
            out << "; ssh " << fp;
        if (!k.certificate.empty())
            out << "; certificate " << certificate_subject(k.certificate);
        out << "\n";
        if (!k.served)
            out << "    NOT SERVED: " << k.refusal << "\n";
        out << "    " << k.uri << "\n";
    }
    return out.str();
}

}  // namespace

void add_keys_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("keys", "List the keys on your tokens and what they may do");
    auto json = std::make_shared<bool>(false);
    add_output_flags(*cmd, *json);
    cmd->callback([json, &exit_code] {
        run_command(*json, exit_code, [] {
            auto client = connect_agent();
            auto keys = call_agent<protocol::ListKeysReply>(client, protocol::ListKeysRequest{});
            Report report;
            report.json = {{"keys", nlohmann::json::array()}};
            for (const auto& k : keys.keys)
                report.json["keys"].push_back(to_json(k));
            report.text = keys_text(keys.keys);
            return report;
        });
    });
}

}  // namespace attache::cli
