#include "agent/frontend/ssh_frontend.h"

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <climits>

#include "agent/core/agent_error.h"
#include "agent/core/log.h"
#include "agent/ssh/constraints.h"
#include "agent/ssh/sign_facts.h"
#include "agent/ssh/sign_payload.h"
#include "agent/ssh/wire.h"

namespace attache::agent {
namespace {

std::string canonical(const std::string& path) {
    char resolved[PATH_MAX];
    return realpath(path.c_str(), resolved) ? std::string(resolved) : std::string();
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

// "unknown SSH key SHA256:<hex of the first 8 bytes>": the reference the broker gets (and
// audits) for a key blob the agent does not hold.
std::string unknown_key_reference(const Bytes& blob) {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(blob.data(), blob.size(), digest);
    return "unknown SSH key SHA256:" + hex(digest, 8);
}

}  // namespace

bool SshModuleSwitch::any_hidden() const {
    std::lock_guard lock(mutex_);
    return !hidden_.empty() || !hide_at_.empty();
}

bool SshModuleSwitch::hidden(const std::string& canonical_path) const {
    std::lock_guard lock(mutex_);
    if (hidden_.count(canonical_path) != 0)
        return true;
    const auto expiry = hide_at_.find(canonical_path);
    return expiry != hide_at_.end() && Clock::now() >= expiry->second;
}

void SshModuleSwitch::show_for(const std::string& canonical_path, Clock::duration lifetime) {
    std::lock_guard lock(mutex_);
    hidden_.erase(canonical_path);
    hide_at_[canonical_path] = Clock::now() + lifetime;
}

void SshModuleSwitch::set_hidden(const std::string& canonical_path, bool hidden) {
    std::lock_guard lock(mutex_);
    hide_at_.erase(canonical_path);
    if (hidden) {
        hidden_.insert(canonical_path);
        confirm_.erase(canonical_path);
    } else {
        hidden_.erase(canonical_path);
    }
}

bool SshModuleSwitch::confirm_each_use(const std::string& canonical_path) const {
    std::lock_guard lock(mutex_);
    return confirm_.count(canonical_path) != 0;
}

void SshModuleSwitch::set_confirm_each_use(const std::string& canonical_path) {
    std::lock_guard lock(mutex_);
    confirm_.insert(canonical_path);
}

std::optional<SshKey> SshKeyCache::of(const KeyRecord& key) {
    std::lock_guard lock(mutex_);
    if (auto it = keys_.find(key.id); it != keys_.end())
        return it->second;
    std::optional<SshKey> ssh;
    if (key.pkey) {
        auto type = ssh::key_type_of(key.pkey.get());
        auto blob = type ? ssh::public_key_blob(key.pkey.get()) : Result<Bytes>(type.error());
        if (type && blob)
            ssh = SshKey{*type, std::move(*blob)};
    }
    if (keys_.size() >= kMaxEntries)
        keys_.clear();
    keys_.emplace(key.id, ssh);
    return ssh;
}

Context SshSession::context() const {
    Context c{client_, Channel::ssh, {}};
    c.ssh.bound = binding_.bound();
    c.ssh.bind_failed = binding_.failed();
    c.ssh.forwarded = binding_.forwarded();
    c.ssh.destination = binding_.destination();
    return c;
}

bool SshSession::ssh_usable(const ListedKey& k) {
    const KeyRecord& key = *k.key;
    // Served signing keys of a type SSH knows (RSA >= 2048, ECDSA P-256/384/521, Ed25519). Keys
    // of a locked token are listed too, so ssh offers them.
    if (!key.served || !(key.operations & protocol::kOpSign))
        return false;
    if (key.type == protocol::KeyType::rsa && key.bits < 2048)
        return false;
    return !shared_.modules.any_hidden() ||
           !shared_.modules.hidden(canonical(k.token->module().path()));
}

std::vector<SshSession::Usable> SshSession::usable_keys(const Context& context) {
    std::vector<Usable> out;
    Performed listed = shared_.broker.perform(ListOperation{}, context);
    if (!listed.result) {
        log_warning("ssh: no keys listed for pid " + std::to_string(client_.pid) + ": " +
                    listed.result.error().message());
        return out;
    }
    for (auto& k : std::get<KeyListing>(*listed.result).keys) {
        if (!ssh_usable(k))
            continue;
        if (auto ssh = shared_.keys.of(*k.key))
            out.push_back({std::move(k), std::move(*ssh)});
    }
    return out;
}

std::optional<SshSession::Usable> SshSession::key_with_blob(const Bytes& blob) {
    for (const auto& t : shared_.broker.tokens().tokens()) {
        if (!t->present())
            continue;
        for (const auto& k : t->keys()) {
            ListedKey listed{t, k};
            if (!ssh_usable(listed))
                continue;
            auto ssh = shared_.keys.of(*k);
            if (ssh && ssh->blob == blob)
                return Usable{std::move(listed), std::move(*ssh)};
        }
    }
    return std::nullopt;
}

Bytes SshSession::handle(ssh::Request& request) {
    return std::visit([&](auto& r) { return on(r); }, request);
}

Bytes SshSession::on(ssh::RequestIdentities&) {
    std::vector<ssh::Identity> ids;
    for (auto& k : usable_keys(context()))
        ids.push_back({std::move(k.ssh.blob), comment_for(*k.listed.token, *k.listed.key)});
    return ssh::encode_identities(ids);
}

Bytes SshSession::on(ssh::SignRequest& r) {
    Context ctx = context();
    std::optional<Usable> found = key_with_blob(r.key_blob);
    // What the bytes are, on this connection (agent/ssh/sign_payload.h); the broker's
    // check_channel step refuses what ssh.sock must not sign.
    const bool confirm =
        found && shared_.modules.confirm_each_use(canonical(found->listed.token->module().path()));
    ctx.ssh = ssh::sign_facts(binding_, ssh::classify_sign_data(r.data, r.key_blob), confirm);
    SignOperation sign;
    sign.data = std::move(r.data);
    std::optional<ssh::SignPlan> plan;
    if (!found) {
        sign.key = unknown_key_reference(r.key_blob);  // the broker refuses and audits it
    } else {
        auto planned =
            ssh::plan_signature(found->ssh.type, r.flags, shared_.options.allow_ssh_rsa_sha1);
        if (!planned) {
            log_warning("ssh sign refused: " + planned.error().message());
            return ssh::encode_failure();
        }
        plan = *planned;
        sign.key = found->listed.key->id;
        sign.hash = plan->hash;
        sign.scheme = found->ssh.type == ssh::KeyType::kRsa       ? protocol::SignScheme::rsa_pkcs1
                      : found->ssh.type == ssh::KeyType::kEd25519 ? protocol::SignScheme::eddsa
                                                                  : protocol::SignScheme::ecdsa;
    }
    Performed performed = shared_.broker.perform(std::move(sign), ctx);
    if (!performed.result) {
        // ssh only says "agent refused operation": the log says why and what to do.
        log_warning("ssh sign" + (found ? " with key " + found->listed.key->id : std::string()) +
                    ": " + performed.result.error().message());
        return ssh::encode_failure();
    }
    auto blob = ssh::encode_signature(*plan, std::get<KeyResult>(*performed.result).bytes);
    if (!blob)
        return ssh::encode_failure();
    return ssh::encode_sign_response(*blob);
}

// Card keys cannot be added or removed through ssh-add.
Bytes SshSession::on(ssh::AddIdentity&) {
    return refuse("ssh-add of a key file");
}
Bytes SshSession::on(ssh::RemoveIdentity&) {
    return refuse("ssh-add -d");
}
Bytes SshSession::on(ssh::RemoveAllIdentities&) {
    return refuse("ssh-add -D");
}

// `ssh-add -s MODULE` / `-e MODULE` switch the SSH keys of one of the agent's own modules on
// and off. Nothing is ever loaded on a client's request: MODULE must, after realpath(), be on
// the admin's ssh_add_allowed_modules list AND be a module the agent loaded at start from its
// configuration. (Its C_GetFunctionList was checked then, by Library::load.)
Bytes SshSession::on(ssh::AddSmartcardKey& r) {
    bool confirm = false;
    std::optional<std::uint32_t> lifetime;
    if (r.constraints) {
        // Every constraint is honoured or the request is refused: one dropped with a success
        // reply would be a vulnerability (CVE-2023-28531).
        auto c = ssh::decode_constraints(*r.constraints);
        std::string why;
        if (!c)
            why = "malformed key constraints: " + c.error().message();
        else if (c->destinations)
            why =
                "ssh-add -h: destination constraints are not honoured for card keys; "
                "restrict where keys are used with the agent's policy instead (docs/policy.md)";
        else if (c->certificates)
            why = "certificates cannot be associated with card keys";
        if (!why.empty()) {
            log_warning("ssh-add -s " + r.reader_id + " refused: " + why);
            return ssh::encode_failure();
        }
        confirm = c->confirm;
        lifetime = c->lifetime_seconds;
    }
    Bytes reply = switch_module("add-module", r.reader_id, false, lifetime);
    // `ssh-add -c -s MODULE`: each signature with the module's keys is confirmed in the
    // agent's dialog (the broker's confirm step), until `ssh-add -e MODULE`.
    if (confirm && reply == ssh::encode_success())
        shared_.modules.set_confirm_each_use(canonical(r.reader_id));
    return reply;
}
Bytes SshSession::on(ssh::RemoveSmartcardKey& r) {
    return switch_module("remove-module", r.reader_id, true);
}

Bytes SshSession::switch_module(const char* op, const std::string& requested, bool hide,
                                std::optional<std::uint32_t> lifetime) {
    const std::string path = canonical(requested);
    bool allowed = false;
    for (const auto& m : shared_.options.allowed_modules)
        allowed |= !path.empty() && canonical(m) == path;
    bool loaded = false;
    for (const auto& m : shared_.broker.tokens().module_paths())
        loaded |= !path.empty() && m == path;
    if (!allowed || !loaded) {
        log_warning(std::string(hide ? "ssh-add -e " : "ssh-add -s ") + requested + " refused: " +
                    (!allowed ? "it is not on the admin's ssh_add_allowed_modules list"
                              : "it is not one of the agent's configured modules") +
                    "; PKCS#11 modules are never loaded on a client's request");
        return ssh::encode_failure();
    }
    if (lifetime) {
        shared_.modules.show_for(path, std::chrono::seconds(*lifetime));
        log_info("ssh-add -t " + std::to_string(*lifetime) + " -s " + requested +
                 ": the module's keys are hidden again after " + std::to_string(*lifetime) + " s");
    } else {
        shared_.modules.set_hidden(path, hide);
        log_info(std::string(op) + " " + path + " by pid " + std::to_string(client_.pid));
    }
    return ssh::encode_success();
}

Bytes SshSession::on(ssh::Lock&) {
    Performed p = shared_.broker.perform(LockOperation{}, context());
    return p.result ? ssh::encode_success() : ssh::encode_failure();
}

Bytes SshSession::on(ssh::Unlock& r) {
    // The passphrase is the token PIN. With several locked tokens one passphrase could burn a
    // try on a card whose PIN differs: refuse and say how to unlock each.
    std::vector<std::shared_ptr<Token>> locked;
    for (const auto& t : shared_.broker.tokens().tokens()) {
        if (t->present() && !t->unlocked())
            locked.push_back(t);
    }
    if (locked.size() != 1) {
        r.passphrase.clear();
        log_warning(locked.empty() ? "ssh-add -X: no locked token"
                                   : "ssh-add -X: several tokens are locked; unlock each with "
                                     "`attache unlock --token URI`");
        return ssh::encode_failure();
    }
    UnlockOperation unlock{locked.front()->uri(), std::move(r.passphrase)};
    Performed p = shared_.broker.perform(std::move(unlock), context());
    if (!p.result) {
        log_warning("ssh-add -X: " + p.result.error().message());
        return ssh::encode_failure();
    }
    return ssh::encode_success();
}

Bytes SshSession::on(ssh::ExtensionQuery&) {
    return ssh::encode_query_response(
        {std::string(ssh::kExtensionQuery), std::string(ssh::kExtensionSessionBind)});
}

Bytes SshSession::on(ssh::SessionBind& r) {
    // Verified (the host key's signature over the session id) and kept per connection, as
    // OpenSSH's ssh-agent does; a bind that fails marks the connection for good.
    if (Status bound = binding_.bind(r); !bound) {
        log_warning("ssh " + bound.error().message() + " (pid " + std::to_string(client_.pid) +
                    "); nothing will be signed on this connection");
        return ssh::encode_extension_failure();
    }
    log(LogLevel::debug, "ssh session-bind from pid " + std::to_string(client_.pid) + " to " +
                             binding_.destination() + (r.is_forwarding ? " (forwarded)" : ""));
    return ssh::encode_success();
}

Bytes SshSession::on(ssh::Extension&) {
    return ssh::encode_failure();
}
Bytes SshSession::on(ssh::Unknown&) {
    return ssh::encode_failure();
}

Bytes SshSession::refuse(const char* what) {
    log_info(std::string(what) + " refused: Attache serves only keys on tokens");
    return ssh::encode_failure();
}

}  // namespace attache::agent
