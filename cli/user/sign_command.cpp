// attache sign / attache decrypt: one operation through the agent.
//
// Default mechanisms produce what `openssl` verifies directly: RSA PKCS#1 v1.5 over SHA-256,
// ECDSA over SHA-256 as a DER signature, pure EdDSA for Ed25519.

#include <cstdio>
#include <string_view>

#include "cli/exit_codes.h"
#include "cli/file_io.h"
#include "cli/user/agent_access.h"
#include "cli/user/key_format.h"
#include "cli/user/user_commands.h"

namespace attache::cli {
namespace {

using protocol::HashAlg;
using protocol::KeyType;
using protocol::SignScheme;

struct SignMechanism {
    std::string_view name;
    SignScheme scheme;
    HashAlg hash;
    KeyType key_type;
};

constexpr SignMechanism kSignMechanisms[] = {
    {"rsa-pkcs1-sha256", SignScheme::rsa_pkcs1, HashAlg::sha256, KeyType::rsa},
    {"rsa-pkcs1-sha384", SignScheme::rsa_pkcs1, HashAlg::sha384, KeyType::rsa},
    {"rsa-pkcs1-sha512", SignScheme::rsa_pkcs1, HashAlg::sha512, KeyType::rsa},
    {"rsa-pss-sha256", SignScheme::rsa_pss, HashAlg::sha256, KeyType::rsa},
    {"rsa-pss-sha384", SignScheme::rsa_pss, HashAlg::sha384, KeyType::rsa},
    {"rsa-pss-sha512", SignScheme::rsa_pss, HashAlg::sha512, KeyType::rsa},
    {"ecdsa-sha256", SignScheme::ecdsa, HashAlg::sha256, KeyType::ec},
    {"ecdsa-sha384", SignScheme::ecdsa, HashAlg::sha384, KeyType::ec},
    {"ecdsa-sha512", SignScheme::ecdsa, HashAlg::sha512, KeyType::ec},
    {"eddsa", SignScheme::eddsa, HashAlg::none, KeyType::ed25519},
};

size_t hash_bytes(HashAlg h) {
    switch (h) {
        case HashAlg::sha1:
            return 20;
        case HashAlg::sha256:
            return 32;
        case HashAlg::sha384:
            return 48;
        case HashAlg::sha512:
            return 64;
        case HashAlg::none:
            return 0;
    }
    return 0;
}

std::string sign_mechanism_names() {
    std::string out;
    for (const auto& m : kSignMechanisms)
        out += (out.empty() ? "" : ", ") + std::string(m.name);
    return out;
}

struct SignOptions {
    std::string key;
    std::string mechanism;
    std::string in;
    std::string out;
    bool raw = false;
    bool prehashed = false;
};

int run_sign(const SignOptions& o) {
    auto client = connect_agent();
    if (!client)
        return kAgentNotRunning;
    int exit_code = kFailure;
    auto key = resolve_key(*client, o.key, exit_code);
    if (!key)
        return exit_code;

    const SignMechanism* mech = nullptr;
    if (o.mechanism.empty()) {
        for (const auto& m : kSignMechanisms) {
            if (m.key_type == key->type) {
                mech = &m;
                break;
            }
        }
    } else {
        for (const auto& m : kSignMechanisms) {
            if (m.name == o.mechanism)
                mech = &m;
        }
        if (mech == nullptr) {
            return report(Error("unknown mechanism '" + o.mechanism + "' (one of " +
                                sign_mechanism_names() + ")"),
                          kUsage);
        }
    }
    if (mech == nullptr || mech->key_type != key->type) {
        return report(Error("mechanism " + std::string(mech ? mech->name : "?") +
                            " does not fit the " + key_type_name(key->type) + " key " + key->id),
                      kUsage);
    }
    if (o.prehashed && mech->hash == HashAlg::none) {
        return report(Error("EdDSA signs the message itself; --prehashed does not apply"), kUsage);
    }

    auto data = read_input(o.in);
    if (!data)
        return report(data.error(), kFailure);
    if (o.prehashed && data->size() != hash_bytes(mech->hash)) {
        return report(
            Error("--prehashed input must be the " + std::to_string(hash_bytes(mech->hash)) +
                  "-byte digest, got " + std::to_string(data->size()) + " bytes"),
            kUsage);
    }
    protocol::SignRequest request;
    request.key = key->id;
    request.scheme = mech->scheme;
    request.hash = mech->hash;
    request.prehashed = o.prehashed;
    request.pss_salt_length = static_cast<uint32_t>(hash_bytes(mech->hash));
    request.ecdsa_der = !o.raw;
    request.data = std::move(*data);
    auto reply = call_expect<protocol::SignReply>(*client, request, exit_code);
    if (!reply)
        return exit_code;
    if (Status s = write_output(o.out, reply->signature); !s)
        return report(s.error(), kFailure);
    return kOk;
}

struct DecryptOptions {
    std::string key;
    std::string mechanism = "rsa-oaep-sha1";
    std::string in;
    std::string out;
};

int run_decrypt(const DecryptOptions& o) {
    protocol::DecryptRequest request;
    if (o.mechanism == "rsa-oaep-sha1") {
        request.scheme = protocol::DecryptScheme::rsa_oaep;
        request.oaep_hash = HashAlg::sha1;
    } else if (o.mechanism == "rsa-oaep-sha256") {
        request.scheme = protocol::DecryptScheme::rsa_oaep;
        request.oaep_hash = HashAlg::sha256;
    } else if (o.mechanism == "rsa-pkcs1") {
        request.scheme = protocol::DecryptScheme::rsa_pkcs1;
        request.oaep_hash = HashAlg::none;
    } else {
        return report(Error("unknown mechanism '" + o.mechanism +
                            "' (one of rsa-oaep-sha1, rsa-oaep-sha256, rsa-pkcs1)"),
                      kUsage);
    }
    auto client = connect_agent();
    if (!client)
        return kAgentNotRunning;
    int exit_code = kFailure;
    auto key = resolve_key(*client, o.key, exit_code);
    if (!key)
        return exit_code;
    auto data = read_input(o.in);
    if (!data)
        return report(data.error(), kFailure);
    request.key = key->id;
    request.data = std::move(*data);
    auto reply = call_expect<protocol::DecryptReply>(*client, request, exit_code);
    if (!reply)
        return exit_code;
    if (Status s = write_output(o.out, reply->plaintext); !s)
        return report(s.error(), kFailure);
    return kOk;
}

}  // namespace

void add_sign_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<SignOptions>();
    auto* cmd = app.add_subcommand("sign", "Sign data with a key on your token");
    cmd->add_option("--key", o->key, "Key id (from `attache keys`) or PKCS#11 URI")->required();
    cmd->add_option("--mechanism", o->mechanism,
                    "One of " + sign_mechanism_names() +
                        " (default: rsa-pkcs1-sha256, ecdsa-sha256 or eddsa by key type)");
    cmd->add_option("--in", o->in, "Input file (default: standard input)");
    cmd->add_option("--out", o->out, "Signature file (default: standard output)");
    cmd->add_flag("--raw", o->raw, "ECDSA: output r||s instead of a DER signature");
    cmd->add_flag("--prehashed", o->prehashed, "The input is already the digest");
    cmd->callback([o, &exit_code] { exit_code = run_sign(*o); });
}

void add_decrypt_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<DecryptOptions>();
    auto* cmd = app.add_subcommand("decrypt", "Decrypt data with an RSA key on your token");
    cmd->add_option("--key", o->key, "Key id (from `attache keys`) or PKCS#11 URI")->required();
    cmd->add_option("--mechanism", o->mechanism,
                    "rsa-oaep-sha1 (default, as `openssl pkeyutl -pkeyopt "
                    "rsa_padding_mode:oaep`), rsa-oaep-sha256 or rsa-pkcs1");
    cmd->add_option("--in", o->in, "Ciphertext file (default: standard input)");
    cmd->add_option("--out", o->out, "Plaintext file, created 0600 (default: standard output)");
    cmd->callback([o, &exit_code] { exit_code = run_decrypt(*o); });
}

}  // namespace attache::cli
