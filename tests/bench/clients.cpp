#include "tests/bench/clients.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "agent/ssh/keys.h"
#include "agent/ssh/messages.h"
#include "agent/ssh/sign_payload.h"
#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/mechanism.h"
#include "pkcs11/module.h"
#include "pkcs11/module_helper/helper_options.h"
#include "pkcs11/operations.h"
#include "pkcs11/public_key.h"
#include "pkcs11/secret.h"

namespace attache::bench {
namespace {

Error unsupported(std::string message) {
    return Error(std::move(message)).with_code(kUnsupported);
}

size_t output_size(Mech m) {
    switch (m) {
        case Mech::rsa2048:
        case Mech::rsa2048_oaep:
            return 256;
        case Mech::rsa3072:
            return 384;
        case Mech::ec_p256:
        case Mech::ed25519:
            return 64;
    }
    return 512;
}

// ---- (a) (d) (f): a PKCS#11 module in the client -------------------------------------------

// One per process and module: the module stays loaded and the login stays (see warm_up).
struct Anchor {
    p11::Module module;
    CK_SLOT_ID slot;
    std::string token;
    p11::Session session;
};

std::mutex g_anchor_mutex;
std::map<std::string, std::unique_ptr<Anchor>>& anchors() {
    static auto* map = new std::map<std::string, std::unique_ptr<Anchor>>;
    return *map;
}

// The module in this process, or in a helper process of its own (one per client process and
// module, like the in-process anchor), with this process's environment (SOFTHSM2_CONF).
Result<p11::Module> load_module(const ClientSpec& spec) {
    if (spec.module_helper.empty())
        return p11::Module::load(spec.module);
    p11::HelperOptions options;
    options.helper_path = spec.module_helper;
    for (char** e = environ; *e != nullptr; ++e)
        options.environment.emplace_back(*e);
    return p11::Module::start_helper(spec.module, options);
}

Result<Anchor*> anchor_for(const ClientSpec& spec, bool may_log_in) {
    std::lock_guard lock(g_anchor_mutex);
    const std::string key = spec.module + "\n" + spec.token + "\n" + spec.module_helper;
    if (auto it = anchors().find(key); it != anchors().end())
        return it->second.get();
    ATTACHE_TRY(p11::Module module, load_module(spec));
    ATTACHE_TRY(auto slots, module.slots(/*with_token_only=*/true));
    std::optional<CK_SLOT_ID> slot;
    std::optional<p11::TokenInfo> info;
    for (CK_SLOT_ID s : slots) {
        auto ti = module.token_info(s);
        if (!ti)
            continue;
        if (spec.token.empty() ? slots.size() == 1 : ti->label == spec.token) {
            slot = s;
            info = *ti;
            break;
        }
    }
    if (!slot) {
        return Error("module " + spec.module + " shows no token labelled '" + spec.token + "' (" +
                     std::to_string(slots.size()) + " slots with a token)");
    }
    ATTACHE_TRY(p11::Session session, module.open_session(*slot));
    ATTACHE_TRY(CK_SESSION_INFO si, session.info());
    const bool logged_in = si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
    if (!logged_in && info->login_required()) {
        if (!may_log_in) {
            return Error("module " + spec.module +
                         " would need a login outside the setup phase (SoftHSM2 token files "
                         "are not safe against concurrent logins)");
        }
        // A token with a protected authentication path (the forwarding module, whose agent
        // holds the login) gets C_Login with no PIN.
        if (info->protected_authentication_path()) {
            ATTACHE_CHECK(session.login(CKU_USER, nullptr));
        } else {
            Secret pin;
            Secret::from(kBenchPin, pin);
            ATTACHE_CHECK(session.login(CKU_USER, &pin));
        }
    }
    auto anchor =
        std::make_unique<Anchor>(Anchor{std::move(module), *slot, spec.token, std::move(session)});
    Anchor* raw = anchor.get();
    anchors().emplace(key, std::move(anchor));
    return raw;
}

class ModuleClient : public Client {
  public:
    static Result<std::unique_ptr<Client>> open(const ClientSpec& spec) {
        ATTACHE_TRY(Anchor * anchor, anchor_for(spec, /*may_log_in=*/false));
        ATTACHE_TRY(p11::Session session, anchor->module.open_session(anchor->slot));
        p11::AttributeTemplate find;
        find.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_string(CKA_LABEL, spec.label);
        ATTACHE_TRY(auto keys, session.find(std::move(find), 2));
        if (keys.size() != 1) {
            return Error("module " + spec.module + ": " + std::to_string(keys.size()) +
                         " private keys labelled '" + spec.label + "'");
        }
        return std::unique_ptr<Client>(
            new ModuleClient(anchor->module, std::move(session), keys.front(), spec));
    }

    Result<Bytes> op() override {
        switch (mech_) {
            case Mech::rsa2048:
            case Mech::rsa3072: {
                // What an application (and the agent) asks of the token: PKCS#1 v1.5 over a
                // DigestInfo it built from its own SHA-256.
                Bytes input =
                    p11::digest_info(p11::Hash::sha256, p11::digest(p11::Hash::sha256, message_));
                return p11::sign(*session_, key_, p11::Mechanism(CKM_RSA_PKCS), input, label_,
                                 output_size(mech_));
            }
            case Mech::ec_p256:
                return p11::sign(*session_, key_, p11::Mechanism(CKM_ECDSA),
                                 p11::digest(p11::Hash::sha256, message_), label_, 64);
            case Mech::ed25519:
                return p11::sign(*session_, key_, p11::Mechanism(CKM_EDDSA), message_, label_, 64);
            case Mech::rsa2048_oaep:
                // SoftHSM2 2.6 implements OAEP with SHA-1 only.
                return p11::decrypt(*session_, key_, p11::Mechanism::rsa_oaep(p11::Hash::sha1),
                                    ciphertext_, label_, output_size(mech_));
        }
        return Error("unknown mechanism");
    }

  private:
    ModuleClient(p11::Module module, p11::Session session, CK_OBJECT_HANDLE key,
                 const ClientSpec& spec)
        : module_(std::move(module)),
          session_(std::move(session)),
          key_(key),
          mech_(spec.mech),
          label_(spec.label),
          message_(spec.message),
          ciphertext_(spec.ciphertext) {}

    p11::Module module_;
    std::optional<p11::Session> session_;
    CK_OBJECT_HANDLE key_;
    Mech mech_;
    std::string label_;
    Bytes message_;
    Bytes ciphertext_;
};

// ---- (b): attache-agent's native protocol --------------------------------------------------

class NativeClient : public Client {
  public:
    static Result<std::unique_ptr<Client>> open(const ClientSpec& spec) {
        ATTACHE_TRY(protocol::Client client,
                    protocol::Client::connect(spec.socket, "attache-bench"));
        protocol::Request request;
        if (spec.mech == Mech::rsa2048_oaep) {
            protocol::DecryptRequest d;
            d.key = spec.key_id;
            d.scheme = protocol::DecryptScheme::rsa_oaep;
            d.oaep_hash = p11::Hash::sha1;
            d.data = spec.ciphertext;
            request = std::move(d);
        } else {
            protocol::SignRequest s;
            s.key = spec.key_id;
            s.data = spec.message;
            switch (spec.mech) {
                case Mech::rsa2048:
                case Mech::rsa3072:
                    s.scheme = protocol::SignScheme::rsa_pkcs1;
                    s.hash = p11::Hash::sha256;
                    break;
                case Mech::ec_p256:
                    s.scheme = protocol::SignScheme::ecdsa;
                    s.hash = p11::Hash::sha256;
                    break;
                case Mech::ed25519:
                    s.scheme = protocol::SignScheme::eddsa;
                    s.hash = std::nullopt;
                    break;
                case Mech::rsa2048_oaep:
                    break;
            }
            request = std::move(s);
        }
        return std::unique_ptr<Client>(new NativeClient(std::move(client), std::move(request)));
    }

    Result<Bytes> op() override {
        ATTACHE_TRY(protocol::Reply reply, client_.call(request_));
        if (auto* s = std::get_if<protocol::SignReply>(&reply))
            return std::move(s->signature);
        if (auto* d = std::get_if<protocol::DecryptReply>(&reply))
            return std::move(d->plaintext);
        if (auto* e = std::get_if<protocol::ErrorReply>(&reply))
            return Error(std::string("attache-agent: ") + protocol::name_of(e->code) + ": " +
                         e->message);
        return Error("attache-agent answered with another reply type");
    }

  private:
    NativeClient(protocol::Client client, protocol::Request request)
        : client_(std::move(client)), request_(std::move(request)) {}

    protocol::Client client_;
    protocol::Request request_;
};

// ---- (c) (e): the SSH agent protocol ---------------------------------------------------------

class SshClient : public Client {
  public:
    static Result<std::unique_ptr<Client>> open(const ClientSpec& spec) {
        if (is_decryption(spec.mech))
            return unsupported("the SSH agent protocol has no decryption");
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (spec.socket.size() >= sizeof addr.sun_path)
            return Error("socket path too long: " + spec.socket);
        std::memcpy(addr.sun_path, spec.socket.c_str(), spec.socket.size() + 1);
        UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd.valid() ||
            connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return Error("cannot connect to " + spec.socket + ": " + std::strerror(errno));
        }
        ATTACHE_TRY(p11::Pkey pkey, p11::pkey_from_spki(spec.spki));
        ATTACHE_TRY(Bytes blob, ssh::public_key_blob(pkey.get()));
        // REQUEST_IDENTITIES once, as ssh does: the key must be among them.
        ATTACHE_TRY(ssh::Response listed,
                    call(fd.get(), ssh::encode_request(ssh::RequestIdentities{})));
        auto* ids = std::get_if<ssh::IdentitiesAnswer>(&listed);
        if (!ids)
            return Error(spec.socket + ": no identities answer");
        bool found = false;
        for (const auto& id : ids->identities)
            found |= id.key_blob == blob;
        if (!found) {
            return unsupported("the SSH agent does not offer the " +
                               std::string(mech_key(spec.mech)) + " key (" +
                               std::to_string(ids->identities.size()) + " identities)");
        }
        ssh::SignRequest sign;
        sign.key_blob = std::move(blob);
        sign.data = spec.message;
        sign.flags = (spec.mech == Mech::rsa2048 || spec.mech == Mech::rsa3072)
                         ? ssh::SSH_AGENT_RSA_SHA2_256
                         : 0;
        return std::unique_ptr<Client>(new SshClient(std::move(fd), ssh::encode_request(sign)));
    }

    Result<Bytes> op() override {
        ATTACHE_TRY(ssh::Response r, call(fd_.get(), request_));
        if (auto* s = std::get_if<ssh::SignResponse>(&r))
            return std::move(s->signature_blob);
        return Error("the SSH agent refused the signature");
    }

  private:
    SshClient(UniqueFd fd, Bytes request) : fd_(std::move(fd)), request_(std::move(request)) {}

    static Result<ssh::Response> call(int fd, const Bytes& frame) {
        ATTACHE_CHECK(stream::write_all(fd, frame));
        ATTACHE_TRY(Bytes body, stream::read_frame(fd, -1, 30'000));
        return ssh::decode_response(body);
    }

    UniqueFd fd_;
    Bytes request_;
};

// ---- checks ---------------------------------------------------------------------------------

Status verify_signature(const ClientSpec& spec, const Bytes& der_or_raw) {
    ATTACHE_TRY(p11::Pkey pkey, p11::pkey_from_spki(spec.spki));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx)
        return Error("EVP_MD_CTX_new failed");
    const EVP_MD* md = spec.mech == Mech::ed25519 ? nullptr : EVP_sha256();
    int ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey.get()) == 1 &&
             EVP_DigestVerify(ctx, der_or_raw.data(), der_or_raw.size(), spec.message.data(),
                              spec.message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return Error("the " + std::string(mech_key(spec.mech)) +
                     " signature does not verify with OpenSSL");
    return attache::ok();
}

// An SSH signature blob: string algorithm, string signature (ECDSA: mpint r, mpint s).
Status verify_ssh_signature(const ClientSpec& spec, const Bytes& blob) {
    ssh::Reader reader(blob);
    ATTACHE_TRY(ssh::ByteView alg, reader.string());
    ATTACHE_TRY(ssh::ByteView sig, reader.string());
    ATTACHE_CHECK(reader.expect_end());
    const std::string_view name = ssh::as_chars(alg);
    const std::string_view expected = spec.mech == Mech::ec_p256   ? "ecdsa-sha2-nistp256"
                                      : spec.mech == Mech::ed25519 ? "ssh-ed25519"
                                                                   : "rsa-sha2-256";
    if (name != expected)
        return Error("SSH signature algorithm " + std::string(name) + ", expected " +
                     std::string(expected));
    if (spec.mech != Mech::ec_p256)
        return verify_signature(spec, Bytes(sig.begin(), sig.end()));
    ssh::Reader inner(sig);
    Bytes raw;
    for (int i = 0; i < 2; ++i) {
        ATTACHE_TRY(ssh::ByteView mpint, inner.string());
        size_t skip = 0;
        while (skip < mpint.size() && mpint[skip] == 0)
            ++skip;
        if (mpint.size() - skip > 32)
            return Error("ECDSA signature component longer than 32 bytes");
        raw.insert(raw.end(), 32 - (mpint.size() - skip), 0);
        raw.insert(raw.end(), mpint.begin() + static_cast<std::ptrdiff_t>(skip), mpint.end());
    }
    ATTACHE_CHECK(inner.expect_end());
    ATTACHE_TRY(Bytes der, p11::ecdsa_raw_to_der(raw));
    return verify_signature(spec, der);
}

}  // namespace

Status warm_up(const ClientSpec& spec) {
    if (spec.kind != Kind::module)
        return ok();
    ATTACHE_TRY(Anchor * anchor, anchor_for(spec, /*may_log_in=*/true));
    (void)anchor;
    return ok();
}

Status check_result(const ClientSpec& spec, const Bytes& result) {
    if (is_decryption(spec.mech)) {
        if (result != spec.plaintext)
            return Error("the decryption gave another plaintext");
        return ok();
    }
    if (spec.kind == Kind::ssh)
        return verify_ssh_signature(spec, result);
    if (spec.mech == Mech::ec_p256) {
        ATTACHE_TRY(Bytes der, p11::ecdsa_raw_to_der(result));
        return verify_signature(spec, der);
    }
    return verify_signature(spec, result);
}

Bytes sshsig_of(const Bytes& message) {
    Bytes hash(EVP_MAX_MD_SIZE);
    unsigned int length = 0;
    EVP_Digest(message.data(), message.size(), hash.data(), &length, EVP_sha512(), nullptr);
    hash.resize(length);
    ssh::Writer w;
    w.raw(ssh::as_bytes(ssh::kSshsigMagic)).string("file").string("").string("sha512");
    w.string(hash);
    return w.take();
}

Result<std::unique_ptr<Client>> open_client(const ClientSpec& spec) {
    Result<std::unique_ptr<Client>> client = Error("no client");
    switch (spec.kind) {
        case Kind::module:
            client = ModuleClient::open(spec);
            break;
        case Kind::native:
            client = NativeClient::open(spec);
            break;
        case Kind::ssh:
            client = SshClient::open(spec);
            break;
    }
    if (!client)
        return client;
    auto first = (*client)->op();
    if (!first) {
        // A module that does not know the mechanism, or an agent refusing it as unknown.
        const auto rv = first.error().rv();
        if (rv && (*rv == CKR_MECHANISM_INVALID || *rv == CKR_MECHANISM_PARAM_INVALID ||
                   *rv == CKR_KEY_TYPE_INCONSISTENT)) {
            return unsupported(first.error().message());
        }
        return std::move(first).error().context("first operation");
    }
    ATTACHE_CHECK(check_result(spec, *first));
    return client;
}

}  // namespace attache::bench
