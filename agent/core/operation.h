#pragma once

// What a client asks of the agent, in the core's own terms: the front ends (native protocol,
// SSH agent protocol) translate their messages into an Operation and the broker's Outcome back
// into their replies. Nothing here is a wire format.

#include <openssl/crypto.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "agent/core/key_record.h"
#include "agent/request/context.h"
#include "pkcs11/agent_protocol/vocabulary.h"
#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::agent {

class Token;

// A signature. `key`: a key id or a PKCS#11 URI naming one key.
struct SignOperation {
    std::string key;
    protocol::SignScheme scheme = protocol::SignScheme::ecdsa;
    std::optional<p11::Hash> hash = p11::Hash::sha256;  // nullopt: the data is signed as given
    bool prehashed = false;                             // `data` is already the digest
    uint32_t pss_salt_length = 0;
    bool ecdsa_der = false;  // a DER SEQUENCE instead of PKCS#11's r||s
    Bytes data;
    // The PIN for this one operation of a CKA_ALWAYS_AUTHENTICATE key, given by the client
    // (an application's C_Login(CKU_CONTEXT_SPECIFIC)); null: the agent asks it itself.
    std::shared_ptr<const Secret> context_pin;
};

struct DecryptOperation {
    std::string key;
    protocol::DecryptScheme scheme = protocol::DecryptScheme::rsa_oaep;
    std::optional<p11::Hash> oaep_hash = p11::Hash::sha1;
    Bytes oaep_label;
    Bytes data;
    std::shared_ptr<const Secret> context_pin;  // as in SignOperation
};

// ECDH: the shared secret with the peer's public point (uncompressed octets).
struct DeriveOperation {
    std::string key;
    Bytes peer_point;
};

struct UnlockOperation {
    std::string token;          // a token URI; empty: the only token
    std::optional<Secret> pin;  // absent: the PIN pad, or the agent's own PIN dialog
};

struct LockOperation {
    std::string token;  // empty: every token
};

// The keys of the present tokens.
struct ListOperation {};

using Operation = std::variant<SignOperation, DecryptOperation, DeriveOperation, UnlockOperation,
                               LockOperation, ListOperation>;

OperationKind kind_of(const Operation& operation);

// ---- Outcomes ----

// A signature, a plaintext or a shared secret; wiped when dropped (a plaintext or a shared
// secret must not linger in freed memory).
struct KeyResult {
    Bytes bytes;

    explicit KeyResult(Bytes b) : bytes(std::move(b)) {}
    KeyResult(KeyResult&&) noexcept = default;
    KeyResult& operator=(KeyResult&&) noexcept = default;
    ~KeyResult() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

struct UnlockResult {
    std::string token_label;
    bool already_unlocked = false;
};

struct LockResult {
    uint32_t locked = 0;  // tokens logged out
};

struct ListedKey {
    std::shared_ptr<Token> token;
    std::shared_ptr<const KeyRecord> key;
};

struct ListedAuthority {
    std::shared_ptr<Token> token;
    AuthorityRecord certificate;
};

struct KeyListing {
    std::vector<ListedKey> keys;
    std::vector<ListedAuthority> authorities;  // CA certificates stored on the tokens
};

using Outcome = std::variant<KeyResult, UnlockResult, LockResult, KeyListing>;

// The broker's answer: the outcome, or why the chain stopped. `token_flags` goes with PIN
// errors (the token's CK_TOKEN_INFO flags after the attempt) so clients can say how many tries
// are left.
struct Performed {
    Result<Outcome> result = Error("not performed");
    uint64_t token_flags = 0;
};

}  // namespace attache::agent
