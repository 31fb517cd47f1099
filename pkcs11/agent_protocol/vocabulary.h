#pragma once

// The words the agent and its clients share: key types, the operations a key allows, signature
// and decryption schemes, and the error codes a refusal carries. No message, no encoding: the
// agent's core speaks in these terms too (agent/core includes this, never messages.h or a
// codec). docs/protocol.md gives each its wire value.

#include <cstdint>

namespace attache::protocol {

enum class SignScheme : uint8_t {
    rsa_pkcs1 = 1,      // PKCS#1 v1.5 over DigestInfo(hash(data)), or DigestInfo(data) prehashed
    rsa_pkcs1_raw = 2,  // CKM_RSA_PKCS on data as given (the caller built the DigestInfo)
    rsa_pss = 3,        // PSS over hash(data) or data prehashed; MGF1 with the same hash
    ecdsa = 4,          // ECDSA over hash(data) or data prehashed (hash none: data as given)
    eddsa = 5,          // pure EdDSA over data
};

enum class DecryptScheme : uint8_t { rsa_oaep = 1, rsa_pkcs1 = 2 };

// The decryptions a key's token performs, as a bit mask: what an application may start
// without asking the token (C_DecryptInit answers from it). 0: not known.
enum DecryptSupport : uint32_t {
    kDecryptPkcs1 = 1,
    kDecryptOaepSha1 = 2,
    kDecryptOaepSha256 = 4,
    kDecryptOaepSha384 = 8,
    kDecryptOaepSha512 = 16,
};

// Operations a key allows, as a bit mask.
enum KeyOperation : uint32_t { kOpSign = 1, kOpDecrypt = 2, kOpDerive = 4 };

enum class KeyType : uint8_t { rsa = 1, ec = 2, ed25519 = 3 };

enum class ErrorCode : uint32_t {
    bad_request = 1,          // malformed or unexpected message
    unsupported_version = 2,  // no common protocol version
    unknown_key = 3,          // no served key matches
    token_locked = 4,         // unlock first
    pin_incorrect = 5,        // the PIN was wrong (flags tell the tries left)
    pin_locked = 6,           // the PIN is blocked; an admin must unblock it
    final_try = 7,            // last try left; unlock again confirming it
    token_absent = 8,         // the card was removed
    refused_by_policy = 9,    // the agent's policy refuses this key or operation
    refused_by_token = 10,    // the token refused (mechanism, usage); ckr tells why
    device_error = 11,        // the module or card failed
    busy = 12,                // a limit was reached; try later
    unknown_token = 13,       // no token matches
    cancelled = 14,           // the user cancelled
    ambiguous_token = 15,     // several tokens match; name one
    internal = 16,
};

const char* name_of(ErrorCode code);

}  // namespace attache::protocol
