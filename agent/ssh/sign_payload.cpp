#include "agent/ssh/sign_payload.h"

#include <algorithm>
#include <cstring>

#include "agent/ssh/keys.h"
#include "agent/ssh/session_bind.h"
#include "pkcs11/result.h"

namespace attache::ssh {
namespace {

// sshkey_type_from_name(algorithm) == the key's type.
bool algorithm_fits(std::string_view algorithm, ByteView key_blob) {
    auto type = key_type_of_blob(key_blob);
    if (!type)
        return false;
    if (*type == KeyType::kRsa)
        return algorithm == "ssh-rsa" || algorithm == "rsa-sha2-256" || algorithm == "rsa-sha2-512";
    return algorithm == key_type_name(*type);
}

Result<UserauthPayload> parse_userauth(ByteView data, ByteView key_blob) {
    Reader r(data);
    UserauthPayload out;
    ATTACHE_TRY(ByteView sid, r.string());
    if (sid.empty())
        return Error("empty session id");
    out.session_id.assign(sid.begin(), sid.end());
    ATTACHE_TRY(std::uint8_t type, r.u8());
    if (type != SSH_MSG_USERAUTH_REQUEST)
        return Error("message type " + std::to_string(type) + ", not SSH_MSG_USERAUTH_REQUEST");
    ATTACHE_TRY(out.user, read_text(r, "user"));
    ATTACHE_TRY(std::string service, read_text(r, "service"));
    if (service != "ssh-connection")
        return Error("service \"" + service + "\", not ssh-connection");
    ATTACHE_TRY(std::string method, read_text(r, "method"));
    ATTACHE_TRY(std::uint8_t sig_follows, r.u8());
    if (sig_follows != 1)
        return Error("the signature flag is not TRUE");
    ATTACHE_TRY(out.algorithm, read_text(r, "algorithm"));
    ATTACHE_TRY(ByteView key, r.string());
    if (!std::equal(key.begin(), key.end(), key_blob.begin(), key_blob.end()))
        return Error("it names another key than the one asked to sign");
    if (!algorithm_fits(out.algorithm, key_blob))
        return Error("algorithm \"" + out.algorithm + "\" does not fit the key");
    if (method == kMethodHostbound) {
        ATTACHE_TRY(ByteView hostkey, r.string());
        ATTACHE_CHECK(parse_host_key_blob(hostkey));
        out.hostbound = true;
        out.hostkey.assign(hostkey.begin(), hostkey.end());
    } else if (method != kMethodPublickey) {
        return Error("method \"" + method + "\"");
    }
    ATTACHE_CHECK(r.expect_end());
    return out;
}

Result<SshsigPayload> parse_sshsig(ByteView data) {
    Reader r(data);
    ATTACHE_TRY(ByteView magic, r.bytes(kSshsigMagic.size()));
    if (as_chars(magic) != kSshsigMagic)
        return Error("no SSHSIG magic");
    SshsigPayload out;
    ATTACHE_TRY(out.name_space, read_text(r, "namespace"));
    if (out.name_space.empty())
        return Error("empty namespace");
    ATTACHE_CHECK(r.string());  // reserved
    ATTACHE_TRY(out.hash_algorithm, read_text(r, "hash algorithm"));
    const size_t want = out.hash_algorithm == "sha256"   ? 32
                        : out.hash_algorithm == "sha512" ? 64
                                                         : 0;
    if (want == 0)
        return Error("hash algorithm \"" + out.hash_algorithm + "\"");
    ATTACHE_TRY(ByteView hash, r.string());
    if (hash.size() != want)
        return Error("hash of " + std::to_string(hash.size()) + " bytes for " + out.hash_algorithm);
    ATTACHE_CHECK(r.expect_end());
    return out;
}

}  // namespace

SignPayload classify_sign_data(ByteView data, ByteView key_blob) {
    auto userauth = parse_userauth(data, key_blob);
    if (userauth)
        return std::move(*userauth);
    auto sshsig = parse_sshsig(data);
    if (sshsig)
        return std::move(*sshsig);
    return OtherPayload{"not a userauth request (" + userauth.error().message() +
                        ") nor an SSHSIG blob (" + sshsig.error().message() + ")"};
}

}  // namespace attache::ssh
