#pragma once

// Attache's native protocol: the messages between attache-agent and its clients (the CLI, the
// forwarding module attache-pkcs11.so, applications). docs/protocol.md is the reference.
//
// A message is a frame: u32 length (big-endian) + body. A body is u8 type, u32 request id, and
// the fields of that type. Replies carry the id of their request and the type of the request
// with the high bit set (0x80 | type), or kErrorReply. The first request on a connection must
// be Hello.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "pkcs11/agent_protocol/vocabulary.h"
#include "pkcs11/bytes.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/secret.h"

namespace attache::protocol {

// Version 2 (docs/protocol.md) adds a PIN for one operation to sign and decrypt, and to each
// listed key whether it needs that PIN, which decryptions its token does and its certificate's
// own label, plus the token's authority certificates. Both sides speak 1 and 2; the codec
// encodes and decodes what the connection's version has.
inline constexpr uint32_t kProtocolVersion = 2;
inline constexpr uint32_t kMinProtocolVersion = 1;

// Largest frame body either side accepts: a 16 KiB RSA key's operations and a full key list
// with certificates fit many times over; anything larger is a broken or hostile peer.
inline constexpr size_t kMaxMessageSize = 256 * 1024;
// A key reference: a key id or a PKCS#11 URI. URIs with every attribute stay under 1 KiB.
inline constexpr size_t kMaxKeyRefSize = 2048;
// PINs: PKCS#11 tokens report at most a few dozen bytes (ulMaxPinLen).
inline constexpr size_t kMaxPinSize = 256;
// Short texts: client names, labels, messages.
inline constexpr size_t kMaxTextSize = 4096;
// Entries in a list reply (tokens, keys) a client accepts.
inline constexpr size_t kMaxListEntries = 4096;
// Random bytes per request.
inline constexpr size_t kMaxRandomSize = 64 * 1024;
// Audit records per `audit-log` request (`attache log --last N`), and fields per record (the
// audit file's own cap, agent/audit/record_line.h). A reply holds fewer when the records would
// not fit in one frame: the agent leaves the oldest out and says how many.
inline constexpr size_t kMaxAuditRecords = 1000;
inline constexpr size_t kMaxAuditFields = 64;

enum class MessageType : uint8_t {
    hello = 1,
    status = 2,
    list_keys = 3,
    sign = 4,
    decrypt = 5,
    derive = 6,
    unlock = 7,
    lock = 8,
    random = 9,
    audit_log = 10,  // the caller's own audit records (managed mode)
};
inline constexpr uint8_t kReplyBit = 0x80;
inline constexpr uint8_t kErrorReply = 0xff;

// ---- Requests -------------------------------------------------------------------------------

struct HelloRequest {
    uint32_t min_version = kMinProtocolVersion;
    uint32_t max_version = kProtocolVersion;
    std::string client;  // free text for logs, e.g. "attache-cli"
};
struct StatusRequest {};
struct ListKeysRequest {};
struct SignRequest {
    std::string key;  // key id or PKCS#11 URI
    SignScheme scheme = SignScheme::ecdsa;
    std::optional<p11::Hash> hash = p11::Hash::sha256;  // nullopt: the data as given
    bool prehashed = false;
    uint32_t pss_salt_length = 0;
    bool ecdsa_der = false;  // DER SEQUENCE instead of PKCS#11's r||s
    Bytes data;
    // Version 2: the PIN for this one operation of a CKA_ALWAYS_AUTHENTICATE key (an
    // application's C_Login(CKU_CONTEXT_SPECIFIC)); null: the agent asks it itself. Shared,
    // not copied, so requests stay copyable values; wiped when the last holder drops it.
    std::shared_ptr<const Secret> context_pin;
};
struct DecryptRequest {
    std::string key;
    DecryptScheme scheme = DecryptScheme::rsa_oaep;
    std::optional<p11::Hash> oaep_hash = p11::Hash::sha1;
    Bytes oaep_label;
    Bytes data;
    std::shared_ptr<const Secret> context_pin;  // version 2, as in SignRequest
};
struct DeriveRequest {
    std::string key;
    Bytes peer_point;  // the peer's public EC point, uncompressed octets
};
struct UnlockRequest {
    std::string token;  // token URI; empty: the only token
    bool confirm_final_try = false;
    // Absent: the token's PIN pad (or, later, the agent's own PIN prompt).
    std::optional<Secret> pin;
};
struct LockRequest {
    std::string token;  // empty: every token
};
struct RandomRequest {
    uint32_t length = 0;
};
// The newest `max_records` (1 to kMaxAuditRecords) audit records whose client uid is the
// caller's (SO_PEERCRED); nothing else is asked or answered.
struct AuditLogRequest {
    uint32_t max_records = 50;
};

using Request =
    std::variant<HelloRequest, StatusRequest, ListKeysRequest, SignRequest, DecryptRequest,
                 DeriveRequest, UnlockRequest, LockRequest, RandomRequest, AuditLogRequest>;

// ---- Replies --------------------------------------------------------------------------------

struct HelloReply {
    uint32_t version = kProtocolVersion;
    std::string agent;  // "attache-agent 0.1.0"
};
struct TokenStatus {
    std::string uri;
    std::string label;
    std::string serial;
    std::string manufacturer;
    std::string model;
    bool present = false;
    bool unlocked = false;
    uint64_t flags = 0;       // CK_TOKEN_INFO flags (PIN counters, PIN pad)
    uint64_t since = 0;       // unix time of the last lock state change
    std::string lock_reason;  // why it was last locked ("start", "lock request", "idle", ...)
    uint32_t key_count = 0;
};
struct StatusReply {
    std::string agent;
    uint32_t pid = 0;
    std::string socket;
    std::string ssh_socket;
    std::vector<TokenStatus> tokens;
};
struct KeyEntry {
    std::string id;   // stable: derived from the public key
    std::string uri;  // PKCS#11 URI of the private key
    std::string label;
    Bytes cka_id;
    std::string token_label;
    std::string token_serial;
    KeyType type = KeyType::ec;
    uint32_t bits = 0;
    uint32_t operations = 0;  // KeyOperation mask the agent serves
    bool served = false;
    std::string refusal;  // why not served (empty when served)
    Bytes spki;
    Bytes certificate;  // DER, empty without one
    // Version 2 (a version 1 agent leaves them at these values):
    bool always_authenticate = false;  // the token wants the PIN before every use
    uint32_t decrypt_support = 0;      // DecryptSupport mask; 0: not known
    std::string certificate_label;     // the certificate object's own CKA_LABEL
};
// A certificate authority's certificate stored on a token (`attache cert import --chain`).
struct AuthorityCertificate {
    std::string token_label;
    std::string token_serial;
    std::string label;
    Bytes cka_id;
    Bytes certificate;  // DER
};
struct ListKeysReply {
    std::vector<KeyEntry> keys;
    std::vector<AuthorityCertificate> authorities;  // version 2
};
struct SignReply {
    Bytes signature;
};
struct DecryptReply {
    Bytes plaintext;
};
struct DeriveReply {
    Bytes secret;
};
struct UnlockReply {
    std::string token_label;
    bool already_unlocked = false;
};
struct LockReply {
    uint32_t locked = 0;  // tokens logged out
};
struct RandomReply {
    Bytes data;
};
// One audit record: its sequence number and time in the audit file, and its fields in the
// file's order (op, via, key or token, pid, uid, exe, session, ..., result, reason).
struct AuditLogRecord {
    uint64_t seq = 0;
    std::string time;  // RFC 3339, UTC, milliseconds
    std::vector<std::pair<std::string, std::string>> fields;
};
struct AuditLogReply {
    std::vector<AuditLogRecord> records;  // oldest first
    uint32_t omitted = 0;                 // older records of the caller's left out to fit the frame
};
struct ErrorReply {
    ErrorCode code = ErrorCode::internal;
    uint64_t ckr = 0;          // the CK_RV behind it, 0 if none
    uint64_t token_flags = 0;  // for PIN errors: the token's flags after the attempt
    std::string message;       // for humans; never contains a PIN
};

using Reply =
    std::variant<HelloReply, StatusReply, ListKeysReply, SignReply, DecryptReply, DeriveReply,
                 UnlockReply, LockReply, RandomReply, AuditLogReply, ErrorReply>;

struct RequestFrame {
    uint32_t id = 0;
    Request request;
};
struct ReplyFrame {
    uint32_t id = 0;
    Reply reply;
};

MessageType type_of(const Request& request);
// The request holds a PIN (unlock, or a sign or decrypt with a context PIN): its encoding
// must be wiped after use.
bool carries_pin(const Request& request);
const char* name_of(MessageType type);

}  // namespace attache::protocol
