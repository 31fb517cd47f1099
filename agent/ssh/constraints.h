#pragma once

// The constraints of SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED (`ssh-add -s MODULE` with -c, -t,
// -h): draft-ietf-sshm-ssh-agent "Key constraints" and OpenSSH PROTOCOL.agent sections 2-3, as
// ssh-agent.c parse_key_constraints reads them. A constraint that is dropped with a success
// reply is a vulnerability (CVE-2023-28531), so every byte is decoded into a typed value or the
// whole set is an error; the agent then honours or refuses each.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/ssh/wire.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::ssh {

inline constexpr std::uint8_t SSH_AGENT_CONSTRAIN_LIFETIME = 1;
inline constexpr std::uint8_t SSH_AGENT_CONSTRAIN_CONFIRM = 2;
inline constexpr std::uint8_t SSH_AGENT_CONSTRAIN_EXTENSION = 255;

inline constexpr std::string_view kRestrictDestination = "restrict-destination-v00@openssh.com";
inline constexpr std::string_view kAssociatedCerts = "associated-certs-v00@openssh.com";

// ssh-agent.c's caps: AGENT_MAX_DEST_CONSTRAINTS, AGENT_MAX_EXT_CERTS,
// AGENT_USER_CONSTRAINT_MAX_LEN.
inline constexpr size_t kMaxDestinationConstraints = 1024;
inline constexpr size_t kMaxAssociatedCerts = 1024;
inline constexpr size_t kMaxConstraintUserSize = 256;

struct HostKeySpec {
    Bytes key_blob;
    bool is_ca = false;
};

struct DestinationHop {
    std::string user;      // empty: any (always empty for `from`)
    std::string hostname;  // empty for `from`: the host running the agent
    std::vector<HostKeySpec> keys;
};

// `ssh-add -h [FROM>]TO`: the key may be used from `from` to `to` only.
struct DestinationConstraint {
    DestinationHop from;
    DestinationHop to;
};

struct AssociatedCerts {
    bool certs_only = false;
    std::vector<Bytes> certificates;  // certificate blobs, not parsed
};

struct KeyConstraints {
    std::optional<std::uint32_t> lifetime_seconds;  // `ssh-add -t`
    bool confirm = false;                           // `ssh-add -c`
    // `ssh-add -h`; has_value() even when the list is empty (a restriction was asked for).
    std::optional<std::vector<DestinationConstraint>> destinations;
    std::optional<AssociatedCerts> certificates;

    bool empty() const { return !lifetime_seconds && !confirm && !destinations && !certificates; }
};

// Decodes the constraint bytes that follow the PIN of ADD_SMARTCARD_KEY_CONSTRAINED. Fails on
// an unknown constraint type or extension name (sk-provider@openssh.com is for security keys,
// not smartcards), on any constraint given twice, on a destination constraint OpenSSH would
// refuse (a `from` user, `from` hostname without keys or keys without hostname, no `to`
// hostname or keys, non-empty reserved fields, a user pattern over kMaxConstraintUserSize), on
// key blobs that do not parse, over the caps above, and on short or lying fields.
Result<KeyConstraints> decode_constraints(ByteView bytes);

// The canonical encoding (constraints in the order lifetime, confirm, destinations,
// certificates), as ssh-add sends them. decode_constraints(encode_constraints(c)) gives c.
Bytes encode_constraints(const KeyConstraints& constraints);

}  // namespace attache::ssh
