#pragma once

// What one benchmark client does, as a value: which path it takes to the token (a PKCS#11
// module, the agent's native protocol or an SSH agent socket), which key and operation, and
// what it must check. A ClientSpec encodes to one line so that a worker process started with
// exec gets exactly what a client thread gets.

#include <optional>
#include <string>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::bench {

// The operations measured.
enum class Mech { rsa2048, rsa3072, ec_p256, ed25519, rsa2048_oaep };
inline constexpr Mech kAllMechs[] = {Mech::rsa2048, Mech::rsa3072, Mech::ec_p256, Mech::ed25519,
                                     Mech::rsa2048_oaep};

std::string_view mech_key(Mech m);    // "rsa2048", "ec-p256", ... (options, spec lines)
std::string_view mech_title(Mech m);  // "RSA-2048 PKCS#1 v1.5 SHA-256", ...
std::optional<Mech> mech_from_key(std::string_view key);
bool is_decryption(Mech m);

// How a client reaches the token.
enum class Kind {
    module,  // a PKCS#11 module loaded in the client: SoftHSM2, attache-pkcs11.so, p11-kit-client
    native,  // attache-agent's native protocol
    ssh,     // the SSH agent protocol (attache-agent's ssh.sock or OpenSSH's ssh-agent)
};

struct ClientSpec {
    Kind kind = Kind::module;
    Mech mech = Mech::ec_p256;
    std::string module;  // Kind::module: the module's path
    std::string token;   // Kind::module: the token label (empty: the only slot with a token)
    // Kind::module: the attache-module-helper executable to run the module in (its own
    // process, p11::Module::start_helper); empty: the module is loaded in the client.
    std::string module_helper;
    std::string socket;  // Kind::native, Kind::ssh
    std::string label;   // CKA_LABEL of the private key (Kind::module)
    std::string key_id;  // the agent's key id (Kind::native)
    Bytes spki;          // the public key: checks results; names the SSH identity
    Bytes message;       // what is signed
    Bytes ciphertext;    // what is decrypted (decryption mechanisms)
    Bytes plaintext;     // what the decryption must give

    std::string encode() const;
    static Result<ClientSpec> decode(std::string_view line);
};

std::string to_hex(const Bytes& b);
std::optional<Bytes> from_hex(std::string_view s);

}  // namespace attache::bench
