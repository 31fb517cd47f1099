#include "agent/server/ssh_handler.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <climits>

#include "agent/core/agent_error.h"
#include "agent/core/log.h"
#include "agent/protocol/stream_io.h"
#include "agent/server/native_handler.h"
#include "agent/ssh/framing.h"
#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"

namespace attache::agent {
namespace {

struct Served {
    KeyMatch match;
    Bytes blob;
    ssh::KeyType type;
};

// The keys ssh can use: served signing keys of a type SSH knows (RSA >= 2048, ECDSA
// P-256/384/521, Ed25519). Keys of a locked token are listed too, so ssh offers them.
std::vector<Served> ssh_keys(const TokenManager& tokens) {
    std::vector<Served> out;
    for (const auto& t : tokens.tokens()) {
        if (!t->present())
            continue;
        for (const auto& k : t->keys()) {
            if (!k->served || !k->pkey || !(k->operations & protocol::kOpSign))
                continue;
            if (k->type == protocol::KeyType::rsa && k->bits < 2048)
                continue;
            auto type = ssh::key_type_of(k->pkey.get());
            if (!type)
                continue;
            auto blob = ssh::public_key_blob(k->pkey.get());
            if (!blob)
                continue;
            out.push_back({{t, k}, std::move(*blob), *type});
        }
    }
    return out;
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

void audit_ssh(const char* op, const std::string& key, const ClientInfo& client,
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
    SshSession(TokenManager& tokens, const SshOptions& options, const ClientInfo& client)
        : tokens_(tokens), options_(options), client_(client) {}

    Bytes handle(ssh::Request& request) {
        return std::visit([&](auto& r) { return on(r); }, request);
    }

  private:
    Bytes on(ssh::RequestIdentities&) {
        std::vector<ssh::Identity> ids;
        for (const auto& s : ssh_keys(tokens_)) {
            ids.push_back({s.blob, comment_for(*s.match.token, *s.match.key)});
        }
        return ssh::encode_identities(ids);
    }

    Bytes on(ssh::SignRequest& r) {
        for (auto& s : ssh_keys(tokens_)) {
            if (s.blob != r.key_blob)
                continue;
            auto plan = ssh::plan_signature(s.type, r.flags, options_.allow_ssh_rsa_sha1);
            if (!plan) {
                log_warning("ssh sign refused: " + plan.error().message());
                audit_ssh("sign", s.match.key->id, client_, "refused-by-policy");
                return ssh::encode_failure();
            }
            // A locked token asks for its PIN through pinentry (when the agent prompts on
            // use); ssh waits meanwhile.
            if (Status ready = tokens_.prepare_use(
                    s.match, client_.exe + " (pid " + std::to_string(client_.pid) + ")");
                !ready) {
                audit_ssh("sign", s.match.key->id, client_,
                          protocol::name_of(error_code_of(ready.error())));
                log_warning("ssh sign with key " + s.match.key->id + ": " +
                            ready.error().message());
                return ssh::encode_failure();
            }
            protocol::SignRequest sign;
            sign.key = s.match.key->id;
            sign.hash = to_protocol(plan->hash);
            sign.scheme = s.type == ssh::KeyType::kRsa       ? protocol::SignScheme::rsa_pkcs1
                          : s.type == ssh::KeyType::kEd25519 ? protocol::SignScheme::eddsa
                                                             : protocol::SignScheme::ecdsa;
            sign.data = std::move(r.data);
            auto sig = s.match.token->sign(*s.match.key, sign);
            audit_ssh("sign", s.match.key->id, client_,
                      sig ? "ok" : protocol::name_of(error_code_of(sig.error())));
            if (!sig) {
                // ssh only says "agent refused operation": the log says why and what to do.
                log_warning("ssh sign with key " + s.match.key->id + ": " + sig.error().message());
                return ssh::encode_failure();
            }
            auto blob = ssh::encode_signature(*plan, *sig);
            if (!blob)
                return ssh::encode_failure();
            return ssh::encode_sign_response(*blob);
        }
        return ssh::encode_failure();
    }

    // Card keys cannot be added or removed through ssh-add.
    Bytes on(ssh::AddIdentity&) { return refuse("ssh-add of a key file"); }
    Bytes on(ssh::RemoveIdentity&) { return refuse("ssh-add -d"); }
    Bytes on(ssh::RemoveAllIdentities&) { return refuse("ssh-add -D"); }

    Bytes on(ssh::AddSmartcardKey& r) {
        char resolved[PATH_MAX];
        const bool exists = realpath(r.reader_id.c_str(), resolved) != nullptr;
        bool allowed = false;
        for (const auto& m : options_.allowed_modules)
            allowed |= exists && m == resolved;
        if (!allowed) {
            log_warning("ssh-add -s " + r.reader_id +
                        " refused: PKCS#11 modules are loaded only from the admin's "
                        "ssh_add_allowed_modules list, never on a client's request");
            audit_ssh("add-module", r.reader_id, client_, "refused-by-policy");
            return ssh::encode_failure();
        }
        // Allowed modules are already configured (the agent loads its modules at start):
        // nothing to load on the client's request.
        audit_ssh("add-module", r.reader_id, client_, "ok");
        return ssh::encode_success();
    }

    Bytes on(ssh::RemoveSmartcardKey& r) {
        audit_ssh("remove-module", r.reader_id, client_, "refused-by-policy");
        return ssh::encode_failure();
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
    const ClientInfo& client_;
    Bytes bound_host_;
    bool forwarded_ = false;
};

}  // namespace

void SshHandler::serve(int fd, const ClientInfo& client) {
    SshSession session(tokens_, options_, client);
    for (;;) {
        auto body = stream::read_frame(fd, -1, kFrameTimeoutMs);
        if (!body)
            return;  // closed, oversize or zero-length frame, timeout
        auto request = ssh::decode_request(*body);
        OPENSSL_cleanse(body->data(), body->size());  // may hold a PIN or passphrase
        Bytes reply = request ? session.handle(*request) : ssh::encode_failure();
        if (!stream::write_all(fd, reply))
            return;
    }
}

}  // namespace attache::agent
