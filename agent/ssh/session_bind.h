#pragma once

// Verification of `session-bind@openssh.com` (OpenSSH PROTOCOL.agent section 1): ssh tells the
// agent which server it is talking to (the host key), which session (the exchange hash of the
// first key exchange) and proves it with the server's own signature of that session id, the one
// the server sent in its KEX reply. The agent checks that signature the way OpenSSH's ssh-agent
// does (process_ext_session_bind -> sshkey_verify), so a client cannot claim a binding it did
// not witness.
//
// Pure functions: OpenSSL only, no sockets.

#include <cstddef>

#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"
#include "agent/ssh/wire.h"
#include "pkcs11/public_key.h"
#include "pkcs11/result.h"

namespace attache::ssh {

// Longest session id accepted (ssh-agent.c AGENT_MAX_SID_LEN): an exchange hash is at most a
// SHA-512 (64 bytes); anything longer is not a session id.
inline constexpr size_t kMaxSessionIdSize = 128;

// RSA moduli accepted in blobs: OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE and the largest bignum
// its buffers read (SSHBUF_MAX_BIGNUM).
inline constexpr int kMinRsaBits = 1024;
inline constexpr int kMaxRsaBits = 16384;

struct PublicKey {
    KeyType type = KeyType::kEd25519;
    p11::Pkey key;
};

// Parses an SSH public key blob of a plain key (ssh-ed25519, ecdsa-sha2-nistp256/384/521,
// ssh-rsa): every byte consumed, the EC curve name matching the key type, the point on the
// curve, the RSA modulus within [kMinRsaBits, kMaxRsaBits] and its exponent odd and > 1.
// Certificates and other types fail.
Result<PublicKey> parse_public_key_blob(ByteView blob);

// A server host key as ssh sends it in session-bind and hostbound userauth: a plain key as
// above, or an OpenSSH host certificate (ssh-ed25519-cert-v01@openssh.com, ...) whose
// certified key is returned (the certificate's fields are read over, not checked: the agent
// trusts no CA; what it verifies is the key's signature of the session).
Result<PublicKey> parse_host_key_blob(ByteView blob);

// Verifies an SSH signature blob (string algorithm, string signature) made by the key of
// `key_blob` over `data`, as sshkey_verify does with no expected algorithm: the algorithm must
// be the key's own name (for RSA: rsa-sha2-256 or rsa-sha2-512; ssh-rsa with SHA-1 is refused),
// no trailing bytes anywhere; ECDSA's (mpint r, mpint s) and an RSA signature shorter than the
// modulus (left-padded, as OpenSSH does) are accepted.
Status verify_signature_blob(ByteView key_blob, ByteView signature_blob, ByteView data);

// Checks one session-bind: the session id is not empty and at most kMaxSessionIdSize bytes,
// and its signature by the host key (parse_host_key_blob) verifies. The rules between several binds
// of one connection are ConnectionBinding's (connection_binding.h).
Status verify_session_bind(const SessionBind& bind);

}  // namespace attache::ssh
