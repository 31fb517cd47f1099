// attache sign / attache decrypt: one operation through the agent.
//
// Default mechanisms produce what `openssl` verifies directly: RSA PKCS#1 v1.5 over SHA-256,
// ECDSA over SHA-256 as a DER signature, pure EdDSA for Ed25519.

#include <openssl/evp.h>

#include <string_view>

#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "cli/file_io.h"
#include "cli/output_option.h"
#include "cli/user/agent_access.h"
#include "cli/user/key_format.h"
#include "cli/user/user_commands.h"

namespace attache::cli {
namespace {

using protocol::KeyType;
using protocol::SignScheme;

struct SignMechanism {
    std::string_view name;
    SignScheme scheme;
    std::optional<p11::Hash> hash;
    KeyType key_type;
};

constexpr SignMechanism kSignMechanisms[] = {
    {"rsa-pkcs1-sha256", SignScheme::rsa_pkcs1, p11::Hash::sha256, KeyType::rsa},
    {"rsa-pkcs1-sha384", SignScheme::rsa_pkcs1, p11::Hash::sha384, KeyType::rsa},
    {"rsa-pkcs1-sha512", SignScheme::rsa_pkcs1, p11::Hash::sha512, KeyType::rsa},
    {"rsa-pss-sha256", SignScheme::rsa_pss, p11::Hash::sha256, KeyType::rsa},
    {"rsa-pss-sha384", SignScheme::rsa_pss, p11::Hash::sha384, KeyType::rsa},
    {"rsa-pss-sha512", SignScheme::rsa_pss, p11::Hash::sha512, KeyType::rsa},
    {"ecdsa-sha256", SignScheme::ecdsa, p11::Hash::sha256, KeyType::ec},
    {"ecdsa-sha384", SignScheme::ecdsa, p11::Hash::sha384, KeyType::ec},
    {"ecdsa-sha512", SignScheme::ecdsa, p11::Hash::sha512, KeyType::ec},
    {"eddsa", SignScheme::eddsa, std::nullopt, KeyType::ed25519},
};

size_t hash_bytes(std::optional<p11::Hash> h) {
    return h ? p11::hash_size(*h) : 0;
}

std::string sign_mechanism_names() {
    std::string out;
    for (const auto& m : kSignMechanisms)
        out += (out.empty() ? "" : ", ") + std::string(m.name);
    return out;
}

std::string base64(const Bytes& data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

Bytes read_data(const std::string& in) {
    auto data = read_input(in);
    if (!data)
        fail(kUsage, "--in: " + data.error().message());
    return std::move(*data);
}

// The card's result to the prepared output; with --json on standard output, inside the JSON
// (`field`, base64) instead.
Report deliver(OutputFile& out, bool json, const Bytes& result, const char* field,
               nlohmann::json fields) {
    Report report{std::move(fields), {}};
    if (json && out.is_stdout()) {
        report.json[field] = base64(result);
        return report;
    }
    commit_output(out,
                  std::string_view(reinterpret_cast<const char*>(result.data()), result.size()));
    report.json["bytes"] = result.size();
    if (!out.is_stdout())
        report.json["out"] = out.path();
    return report;
}

struct SignOptions {
    std::string key;
    std::string mechanism;
    std::string in;
    std::string out;
    bool raw = false;
    bool prehashed = false;
    bool json = false;
};

const SignMechanism& sign_mechanism(const SignOptions& o, const protocol::KeyEntry& key) {
    const SignMechanism* mech = nullptr;
    for (const auto& m : kSignMechanisms) {
        if (o.mechanism.empty() ? m.key_type == key.type : m.name == o.mechanism) {
            mech = &m;
            break;
        }
    }
    if (mech == nullptr && !o.mechanism.empty())
        fail(kUsage,
             "unknown mechanism '" + o.mechanism + "' (one of " + sign_mechanism_names() + ")");
    if (mech == nullptr || mech->key_type != key.type) {
        fail(kUsage, "mechanism " + std::string(mech ? mech->name : "?") + " does not fit the " +
                         key_type_name(key.type) + " key " + key.id);
    }
    if (o.prehashed && !mech->hash)
        fail(kUsage, "EdDSA signs the message itself; --prehashed does not apply");
    return *mech;
}

Report run_sign(const SignOptions& o) {
    auto client = connect_agent();
    const protocol::KeyEntry key = resolve_key(client, o.key);
    const SignMechanism& mech = sign_mechanism(o, key);
    Bytes data = read_data(o.in);
    if (o.prehashed && data.size() != hash_bytes(mech.hash)) {
        fail(kUsage, "--prehashed input must be the " + std::to_string(hash_bytes(mech.hash)) +
                         "-byte digest, got " + std::to_string(data.size()) + " bytes");
    }
    // Before the card signs: a destination that will be refused costs no signature.
    OutputFile out = prepare_output(o.out);
    protocol::SignRequest request;
    request.key = key.id;
    request.scheme = mech.scheme;
    request.hash = mech.hash;
    request.prehashed = o.prehashed;
    request.pss_salt_length = static_cast<uint32_t>(hash_bytes(mech.hash));
    request.ecdsa_der = !o.raw;
    request.data = std::move(data);
    auto reply = call_agent<protocol::SignReply>(client, request,
                                                 card_name(key.token_label, key.token_serial));
    return deliver(out, o.json, reply.signature, "signature",
                   {{"key", key.id}, {"mechanism", mech.name}});
}

struct DecryptOptions {
    std::string key;
    std::string mechanism = "rsa-oaep-sha1";
    std::string in;
    std::string out;
    bool json = false;
};

Report run_decrypt(const DecryptOptions& o) {
    protocol::DecryptRequest request;
    if (o.mechanism == "rsa-oaep-sha1") {
        request.scheme = protocol::DecryptScheme::rsa_oaep;
        request.oaep_hash = p11::Hash::sha1;
    } else if (o.mechanism == "rsa-oaep-sha256") {
        request.scheme = protocol::DecryptScheme::rsa_oaep;
        request.oaep_hash = p11::Hash::sha256;
    } else if (o.mechanism == "rsa-pkcs1") {
        request.scheme = protocol::DecryptScheme::rsa_pkcs1;
        request.oaep_hash = std::nullopt;
    } else {
        fail(kUsage, "unknown mechanism '" + o.mechanism +
                         "' (one of rsa-oaep-sha1, rsa-oaep-sha256, rsa-pkcs1)");
    }
    auto client = connect_agent();
    const protocol::KeyEntry key = resolve_key(client, o.key);
    request.key = key.id;
    request.data = read_data(o.in);
    // Before the card decrypts: a destination that will be refused costs no decryption.
    OutputFile out = prepare_output(o.out);
    auto reply = call_agent<protocol::DecryptReply>(client, request,
                                                    card_name(key.token_label, key.token_serial));
    return deliver(out, o.json, reply.plaintext, "plaintext",
                   {{"key", key.id}, {"mechanism", o.mechanism}});
}

}  // namespace

void add_sign_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<SignOptions>();
    auto* cmd = app.add_subcommand("sign", "Sign data with a key on your token");
    add_key_option(*cmd, o->key);
    cmd->add_option("--mechanism", o->mechanism,
                    "One of " + sign_mechanism_names() +
                        " (default: rsa-pkcs1-sha256, ecdsa-sha256 or eddsa by key type)");
    cmd->add_option("--in", o->in, "Input file (default: standard input)");
    add_out_option(*cmd, o->out,
                   "Signature file (with --json and no file: base64 in the JSON, \"signature\")");
    cmd->add_flag("--raw", o->raw, "ECDSA: output r||s instead of a DER signature");
    cmd->add_flag("--prehashed", o->prehashed, "The input is already the digest");
    add_output_flags(*cmd, o->json);
    cmd->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return run_sign(*o); }); });
}

void add_decrypt_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<DecryptOptions>();
    auto* cmd = app.add_subcommand("decrypt", "Decrypt data with an RSA key on your token");
    add_key_option(*cmd, o->key);
    cmd->add_option("--mechanism", o->mechanism,
                    "rsa-oaep-sha1 (default, as `openssl pkeyutl -pkeyopt "
                    "rsa_padding_mode:oaep`), rsa-oaep-sha256 or rsa-pkcs1");
    cmd->add_option("--in", o->in, "Ciphertext file (default: standard input)");
    add_out_option(*cmd, o->out,
                   "Plaintext file (with --json and no file: base64 in the JSON, \"plaintext\")");
    add_output_flags(*cmd, o->json);
    cmd->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return run_decrypt(*o); }); });
}

}  // namespace attache::cli
