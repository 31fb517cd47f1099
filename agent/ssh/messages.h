#pragma once

// The SSH agent protocol's messages (draft-ietf-sshm-ssh-agent, formerly draft-miller-ssh-agent,
// and OpenSSH's PROTOCOL.agent) as typed values, with a decoder for what clients send and
// encoders for what the agent answers. Pure functions: no sockets, no tokens.
//
// A request body is one frame without its 4-byte length (see framing.h): the message type
// byte, then its contents. Every encoder returns a whole frame, length prefix included.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/ssh/wire.h"
#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::ssh {

// Message numbers.
inline constexpr std::uint8_t SSH_AGENT_FAILURE = 5;
inline constexpr std::uint8_t SSH_AGENT_SUCCESS = 6;
inline constexpr std::uint8_t SSH_AGENTC_REQUEST_IDENTITIES = 11;
inline constexpr std::uint8_t SSH_AGENT_IDENTITIES_ANSWER = 12;
inline constexpr std::uint8_t SSH_AGENTC_SIGN_REQUEST = 13;
inline constexpr std::uint8_t SSH_AGENT_SIGN_RESPONSE = 14;
inline constexpr std::uint8_t SSH_AGENTC_ADD_IDENTITY = 17;
inline constexpr std::uint8_t SSH_AGENTC_REMOVE_IDENTITY = 18;
inline constexpr std::uint8_t SSH_AGENTC_REMOVE_ALL_IDENTITIES = 19;
inline constexpr std::uint8_t SSH_AGENTC_ADD_SMARTCARD_KEY = 20;
inline constexpr std::uint8_t SSH_AGENTC_REMOVE_SMARTCARD_KEY = 21;
inline constexpr std::uint8_t SSH_AGENTC_LOCK = 22;
inline constexpr std::uint8_t SSH_AGENTC_UNLOCK = 23;
inline constexpr std::uint8_t SSH_AGENTC_ADD_ID_CONSTRAINED = 25;
inline constexpr std::uint8_t SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED = 26;
inline constexpr std::uint8_t SSH_AGENTC_EXTENSION = 27;
inline constexpr std::uint8_t SSH_AGENT_EXTENSION_FAILURE = 28;
inline constexpr std::uint8_t SSH_AGENT_EXTENSION_RESPONSE = 29;

// Sign request flags.
inline constexpr std::uint32_t SSH_AGENT_RSA_SHA2_256 = 2;
inline constexpr std::uint32_t SSH_AGENT_RSA_SHA2_512 = 4;

// Extension names this codec parses.
inline constexpr std::string_view kExtensionQuery = "query";
inline constexpr std::string_view kExtensionSessionBind = "session-bind@openssh.com";

// "SSH_AGENTC_SIGN_REQUEST", ..., or "message type N" for numbers it does not know.
std::string message_name(std::uint8_t type);

// ---- Requests (client to agent) ----

struct RequestIdentities {};

struct SignRequest {
    Bytes key_blob;
    Bytes data;
    std::uint32_t flags = 0;
};

// SSH_AGENTC_ADD_IDENTITY / _CONSTRAINED. The private key in it is not decoded nor copied:
// a hardware-backed agent refuses it.
struct AddIdentity {
    bool constrained = false;
};

struct RemoveIdentity {
    Bytes key_blob;
};

struct RemoveAllIdentities {};

// SSH_AGENTC_ADD_SMARTCARD_KEY / _CONSTRAINED ("ssh-add -s MODULE").
struct AddSmartcardKey {
    std::string reader_id;  // the PKCS#11 module path; never contains a NUL byte
    Secret pin;
    // Set for the _CONSTRAINED message: the constraint bytes, not parsed. An agent that cannot
    // honour constraints (lifetime, confirm, ...) should refuse rather than drop them.
    std::optional<Bytes> constraints;
};

// SSH_AGENTC_REMOVE_SMARTCARD_KEY ("ssh-add -e MODULE").
struct RemoveSmartcardKey {
    std::string reader_id;  // never contains a NUL byte
    Secret pin;
};

struct Lock {
    Secret passphrase;
};

struct Unlock {
    Secret passphrase;
};

// SSH_AGENTC_EXTENSION "query": which extensions does the agent support?
struct ExtensionQuery {};

// SSH_AGENTC_EXTENSION "session-bind@openssh.com" (OpenSSH PROTOCOL.agent section 1).
struct SessionBind {
    Bytes hostkey;     // the server host key blob
    Bytes session_id;  // the exchange hash of the session's first key exchange
    Bytes signature;   // the host key's signature of session_id
    bool is_forwarding = false;
};

// SSH_AGENTC_EXTENSION of any other name. The agent answers SSH_AGENT_FAILURE.
struct Extension {
    std::string name;
    Bytes contents;  // everything after the name, unparsed
};

// A message type this codec does not know (or one only an agent sends). The agent answers
// SSH_AGENT_FAILURE and keeps the connection.
struct Unknown {
    std::uint8_t type = 0;
};

using Request = std::variant<RequestIdentities, SignRequest, AddIdentity, RemoveIdentity,
                             RemoveAllIdentities, AddSmartcardKey, RemoveSmartcardKey, Lock, Unlock,
                             ExtensionQuery, SessionBind, Extension, Unknown>;

// Decodes one frame body. Fails on an empty body, on any field that is short or whose length
// lies, and on bytes left over after a fully parsed message. A failed decode leaves the frame
// boundaries intact: the caller may answer SSH_AGENT_FAILURE and keep reading. PINs and
// passphrases are copied straight into Secrets; the body itself still holds them, so the caller
// wipes it (OPENSSL_cleanse) once decoded.
Result<Request> decode_request(ByteView body);

// The frame of a request, as a client sends it (tests, fuzzing, a future client).
// AddIdentity encodes as its type byte alone; Unknown as its type byte alone.
Bytes encode_request(const Request& request);

// ---- Responses (agent to client) ----

struct Identity {
    Bytes key_blob;
    std::string comment;
};

Bytes encode_failure();
Bytes encode_success();
Bytes encode_extension_failure();
Bytes encode_identities(const std::vector<Identity>& identities);
Bytes encode_sign_response(ByteView signature_blob);
// SSH_AGENT_EXTENSION_RESPONSE: string extension name, then the extension's own contents.
Bytes encode_extension_response(std::string_view extension, ByteView contents);
// The answer to "query": SSH_AGENT_EXTENSION_RESPONSE, string "query", then one string per
// supported extension name (draft-ietf-sshm-ssh-agent, "Query extension").
Bytes encode_query_response(const std::vector<std::string>& extensions);

struct FailureResponse {};
struct SuccessResponse {};
struct IdentitiesAnswer {
    std::vector<Identity> identities;
};
struct SignResponse {
    Bytes signature_blob;
};
struct ExtensionFailure {};
struct ExtensionResponse {
    std::string extension;
    Bytes contents;
};
struct UnknownResponse {
    std::uint8_t type = 0;
};

using Response = std::variant<FailureResponse, SuccessResponse, IdentitiesAnswer, SignResponse,
                              ExtensionFailure, ExtensionResponse, UnknownResponse>;

// Decodes one response frame body (the client side: tests and fuzzing).
Result<Response> decode_response(ByteView body);
// The extension names listed in a "query" response's contents.
Result<std::vector<std::string>> decode_query_names(ByteView contents);

}  // namespace attache::ssh
