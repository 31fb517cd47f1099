#include "agent/server/ssh_handler.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <climits>

#include "agent/core/agent_error.h"
#include "agent/core/log.h"
#include "agent/server/native_handler.h"
#include "agent/server/next_request_wait.h"
#include "agent/ssh/framing.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"
#include "pkcs11/agent_protocol/stream_io.h"

namespace attache::agent {
namespace {

std::string canonical(const std::string& path) {
    char resolved[PATH_MAX];
    return realpath(path.c_str(), resolved) ? std::string(resolved) : std::string();
}

// The keys ssh can use: served signing keys of a type SSH knows (RSA >= 2048, ECDSA
// P-256/384/521, Ed25519). Keys of a locked token are listed too, so ssh offers them.
bool ssh_usable(const KeyRecord& k) {
    if (!k.served || !k.ssh_type || !(k.operations & protocol::kOpSign))
        return false;
    return k.type != protocol::KeyType::rsa || k.bits >= 2048;
}

// Calls `visit(KeyMatch)` for every key ssh can use, in token order, until it returns true.
template <typename Visit>
void for_each_ssh_key(const TokenManager& tokens, const SshModuleSwitch& modules, Visit visit) {
    const bool check_modules = modules.any_hidden();
    for (const auto& t : tokens.tokens()) {
        if (!t->present())
            continue;
        if (check_modules && modules.hidden(canonical(t->module().path())))
            continue;
        for (const auto& k : t->keys()) {
            if (ssh_usable(*k) && visit(KeyMatch{t, k}))
                return;
        }
    }
}

// "label (token 'alice')", or the certificate's common name when there is one.
std::string comment_for(const Token& token, const KeyRecord& key) {
    std::string holder;
    if (!key.certificate.empty()) {
        const unsigned char* p = key.certificate.data();
        if (X509* cert = d2i_X509(nullptr, &p, static_cast<long>(key.certificate.size()))) {
            char cn[256] = {0};
            if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                          sizeof cn) > 0) {
                holder = cn;
            }
            X509_free(cert);
        }
    }
    std::string comment = key.label.empty() ? key.id : key.label;
    comment += " (" + (holder.empty() ? "token '" + token.label() + "'" : holder) + ")";
    for (char& c : comment) {
        if (static_cast<unsigned char>(c) < 0x20)
            c = ' ';
    }
    return comment;
}

protocol::HashAlg to_protocol(ssh::Hash h) {
    switch (h) {
        case ssh::Hash::kNone:
            return protocol::HashAlg::none;
        case ssh::Hash::kSha1:
            return protocol::HashAlg::sha1;
        case ssh::Hash::kSha256:
            return protocol::HashAlg::sha256;
        case ssh::Hash::kSha384:
            return protocol::HashAlg::sha384;
        case ssh::Hash::kSha512:
            return protocol::HashAlg::sha512;
    }
    return protocol::HashAlg::none;
}

// "SHA256:<hex of the first 8 bytes>": names a key blob the agent does not know in the audit.
std::string blob_fingerprint(const Bytes& blob) {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(blob.data(), blob.size(), digest);
    return "SHA256:" + hex(digest, 8);
}

void audit_ssh(const char* op, const std::string& key, const ClientFacts& client,
               const std::string& result) {
    audit({{"op", op},
           {"via", "ssh"},
           {"key", key},
           {"pid", std::to_string(client.pid)},
           {"uid", std::to_string(client.uid)},
           {"exe", client.exe},
           {"result", result}});
}

class SshSession {
  public:
    SshSession(TokenManager& tokens, const SshOptions& options, SshModuleSwitch& modules,
               const ClientFacts& client)
        : tokens_(tokens), options_(options), modules_(modules), client_(client) {}

    Bytes handle(ssh::Request& request) {
        return std::visit([&](auto& r) { return on(r); }, request);
    }

  private:
    Bytes on(ssh::RequestIdentities&) {
        std::vector<ssh::Identity> ids;
        for_each_ssh_key(tokens_, modules_, [&](const KeyMatch& m) {
            ids.push_back({m.key->ssh_blob, comment_for(*m.token, *m.key)});
            return false;
        });
        return ssh::encode_identities(ids);
    }

    Bytes on(ssh::SignRequest& r) {
        std::optional<KeyMatch> found;
        for_each_ssh_key(tokens_, modules_, [&](const KeyMatch& m) {
            if (m.key->ssh_blob != r.key_blob)
                return false;
            found = m;
            return true;
        });
        if (!found) {
            audit_ssh("sign", "unknown key " + blob_fingerprint(r.key_blob), client_,
                      "unknown-key");
            return ssh::encode_failure();
        }
        return sign(*found, r);
    }

    Bytes sign(KeyMatch& match, ssh::SignRequest& r) {
        const ssh::KeyType type = *match.key->ssh_type;
        const std::string key_id = match.key->id;
        auto plan = ssh::plan_signature(type, r.flags, options_.allow_ssh_rsa_sha1);
        if (!plan) {
            log_warning("ssh sign refused: " + plan.error().message());
            audit_ssh("sign", key_id, client_, "refused-by-policy");
            return ssh::encode_failure();
        }
        // A locked token asks for its PIN through pinentry (when the agent prompts on use); ssh
        // waits meanwhile. An unlock rescans the token: `match.key` may be a new record after.
        const std::string requester = client_.exe + " (pid " + std::to_string(client_.pid) + ")";
        if (Status ready = tokens_.prepare_use(match, requester); !ready) {
            audit_ssh("sign", key_id, client_, protocol::name_of(error_code_of(ready.error())));
            log_warning("ssh sign with key " + key_id + ": " + ready.error().message());
            return ssh::encode_failure();
        }
        const KeyRecord& key = *match.key;
        protocol::SignRequest sign;
        sign.key = key.id;
        sign.hash = to_protocol(plan->hash);
        sign.scheme = type == ssh::KeyType::kRsa       ? protocol::SignScheme::rsa_pkcs1
                      : type == ssh::KeyType::kEd25519 ? protocol::SignScheme::eddsa
                                                       : protocol::SignScheme::ecdsa;
        sign.data = std::move(r.data);
        auto sig = match.token->sign(*match.key, sign, {tokens_.prompter(), requester});
        audit_ssh("sign", key.id, client_,
                  sig ? "ok" : protocol::name_of(error_code_of(sig.error())));
        if (!sig) {
            // ssh only says "agent refused operation": the log says why and what to do.
            log_warning("ssh sign with key " + key.id + ": " + sig.error().message());
            return ssh::encode_failure();
        }
        auto blob = ssh::encode_signature(*plan, *sig);
        if (!blob)
            return ssh::encode_failure();
        return ssh::encode_sign_response(*blob);
    }

    // Card keys cannot be added or removed through ssh-add.
    Bytes on(ssh::AddIdentity&) { return refuse("ssh-add of a key file"); }
    Bytes on(ssh::RemoveIdentity&) { return refuse("ssh-add -d"); }
    Bytes on(ssh::RemoveAllIdentities&) { return refuse("ssh-add -D"); }

    // `ssh-add -s MODULE` / `-e MODULE` switch the SSH keys of one of the agent's own modules on
    // and off. Nothing is ever loaded on a client's request: MODULE must, after realpath(), be
    // on the admin's ssh_add_allowed_modules list AND be a module the agent loaded at start
    // from its configuration. (Its C_GetFunctionList was checked then, by Library::load.)
    Bytes on(ssh::AddSmartcardKey& r) { return switch_module("add-module", r.reader_id, false); }
    Bytes on(ssh::RemoveSmartcardKey& r) {
        return switch_module("remove-module", r.reader_id, true);
    }

    Bytes switch_module(const char* op, const std::string& requested, bool hide) {
        const std::string path = canonical(requested);
        bool allowed = false;
        for (const auto& m : options_.allowed_modules)
            allowed |= !path.empty() && canonical(m) == path;
        bool loaded = false;
        for (const auto& m : tokens_.module_paths())
            loaded |= !path.empty() && m == path;
        if (!allowed || !loaded) {
            log_warning(std::string(hide ? "ssh-add -e " : "ssh-add -s ") + requested +
                        " refused: " +
                        (!allowed ? "it is not on the admin's ssh_add_allowed_modules list"
                                  : "it is not one of the agent's configured modules") +
                        "; PKCS#11 modules are never loaded on a client's request");
            audit_ssh(op, requested, client_, "refused-by-policy");
            return ssh::encode_failure();
        }
        modules_.set_hidden(path, hide);
        audit_ssh(op, requested, client_, "ok");
        return ssh::encode_success();
    }

    Bytes on(ssh::Lock&) {
        const int n = tokens_.lock_all("ssh-add -x");
        audit_ssh("lock", "all", client_, std::to_string(n) + "-locked");
        return ssh::encode_success();
    }

    Bytes on(ssh::Unlock& r) {
        // The passphrase is the token PIN. With several locked tokens one passphrase could
        // burn a try on a card whose PIN differs: refuse and say how to unlock each.
        std::vector<std::shared_ptr<Token>> locked;
        for (const auto& t : tokens_.tokens()) {
            if (t->present() && !t->unlocked())
                locked.push_back(t);
        }
        if (locked.size() != 1) {
            log_warning(locked.empty() ? "ssh-add -X: no locked token"
                                       : "ssh-add -X: several tokens are locked; unlock each "
                                         "with `attache unlock --token URI`");
            return ssh::encode_failure();
        }
        auto result = locked.front()->unlock(&r.passphrase, /*confirm_final_try=*/false);
        r.passphrase.clear();
        audit_ssh("unlock", locked.front()->serial(), client_,
                  result ? "ok" : protocol::name_of(error_code_of(result.error())));
        if (!result) {
            log_warning("ssh-add -X: " + result.error().message());
            return ssh::encode_failure();
        }
        return ssh::encode_success();
    }

    Bytes on(ssh::ExtensionQuery&) {
        return ssh::encode_query_response(
            {std::string(ssh::kExtensionQuery), std::string(ssh::kExtensionSessionBind)});
    }

    Bytes on(ssh::SessionBind& r) {
        // Recorded for the per-client policy to come (refuse forwarded use, per-host keys).
        bound_host_ = r.hostkey;
        forwarded_ = forwarded_ || r.is_forwarding;
        log(LogLevel::debug, "ssh session-bind from pid " + std::to_string(client_.pid) +
                                 (r.is_forwarding ? " (forwarded)" : ""));
        return ssh::encode_success();
    }

    Bytes on(ssh::Extension&) { return ssh::encode_failure(); }
    Bytes on(ssh::Unknown&) { return ssh::encode_failure(); }

    Bytes refuse(const char* what) {
        log_info(std::string(what) + " refused: Attache serves only keys on tokens");
        return ssh::encode_failure();
    }

    TokenManager& tokens_;
    const SshOptions& options_;
    SshModuleSwitch& modules_;
    const ClientFacts& client_;
    Bytes bound_host_;
    bool forwarded_ = false;
};

}  // namespace

bool SshModuleSwitch::any_hidden() const {
    std::lock_guard lock(mutex_);
    return !hidden_.empty();
}

bool SshModuleSwitch::hidden(const std::string& canonical_path) const {
    std::lock_guard lock(mutex_);
    return hidden_.count(canonical_path) != 0;
}

void SshModuleSwitch::set_hidden(const std::string& canonical_path, bool hidden) {
    std::lock_guard lock(mutex_);
    if (hidden) {
        hidden_.insert(canonical_path);
    } else {
        hidden_.erase(canonical_path);
    }
}

void SshHandler::serve(int fd, const ClientFacts& client) {
    SshSession session(tokens_, options_, modules_, client);
    NextRequestWait next;
    DeferredAudit audit_records;  // written once each reply is sent
    for (;;) {
        auto body = stream::read_frame(fd, -1, kFrameTimeoutMs);
        if (!body)
            return;  // closed, oversize or zero-length frame, timeout
        next.after_read();
        auto request = ssh::decode_request(*body);
        OPENSSL_cleanse(body->data(), body->size());  // may hold a PIN or passphrase
        Bytes reply = request ? session.handle(*request) : ssh::encode_failure();
        if (!stream::write_all(fd, reply))
            return;
        audit_records.flush();
        next.before_read(fd);
    }
}

}  // namespace attache::agent
