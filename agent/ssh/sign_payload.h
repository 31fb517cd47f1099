#pragma once

// What a SIGN_REQUEST asks the card to sign. An SSH agent that signs any bytes is a signing
// oracle for every protocol the key is trusted in (an X.509 TBSCertificate comes back as a
// valid certificate signature), so the data is classified before it reaches the token:
//   - userauth: an SSH_MSG_USERAUTH_REQUEST (RFC 4252 section 7), exactly as OpenSSH's
//     ssh-agent parses it (parse_userauth_request), for the key being asked;
//   - sshsig: an SSHSIG blob (OpenSSH PROTOCOL.sshsig: ssh-keygen -Y sign, git);
//   - other: anything else.
// Pure functions: no sockets, no tokens.

#include <cstdint>
#include <string>
#include <variant>

#include "agent/ssh/wire.h"
#include "pkcs11/bytes.h"

namespace attache::ssh {

inline constexpr std::uint8_t SSH_MSG_USERAUTH_REQUEST = 50;
inline constexpr std::string_view kMethodPublickey = "publickey";
inline constexpr std::string_view kMethodHostbound = "publickey-hostbound-v00@openssh.com";
inline constexpr std::string_view kSshsigMagic = "SSHSIG";

struct UserauthPayload {
    Bytes session_id;
    std::string user;
    std::string algorithm;  // "rsa-sha2-256", "ssh-ed25519", ...
    bool hostbound = false;
    Bytes hostkey;  // hostbound: the server host key the client saw; empty otherwise
};

struct SshsigPayload {
    std::string name_space;      // "git", "file", ... (never empty)
    std::string hash_algorithm;  // "sha256" or "sha512"
};

struct OtherPayload {
    std::string why;  // why it is neither, for the log
};

using SignPayload = std::variant<UserauthPayload, SshsigPayload, OtherPayload>;

// userauth when `data` is, with every byte consumed:
//   string session id (not empty), byte 50, string user, string "ssh-connection",
//   string "publickey" or "publickey-hostbound-v00@openssh.com", bool TRUE (the byte 1),
//   string algorithm (of the key's type: for RSA ssh-rsa, rsa-sha2-256 or rsa-sha2-512),
//   string key blob (byte-equal to `key_blob`), and for hostbound string host key (a key or
//   host certificate that parse_host_key_blob takes);
// sshsig when it is "SSHSIG", string namespace (not empty), string reserved, string hash
// algorithm ("sha256" or "sha512"), string hash (32 or 64 bytes to match), nothing after;
// other otherwise. Text fields (user, algorithm, namespace, ...) must hold no NUL byte.
SignPayload classify_sign_data(ByteView data, ByteView key_blob);

}  // namespace attache::ssh
