// attache cert import: stores a holder's certificate next to its key on the card.
//   - the certificate must be for a key on this card (its public key equals the key's) and for a
//     key this card's open inventory record lists, with the recorded SPKI fingerprint;
//   - it must be valid now, not a CA certificate, and its key usage must fit the key's role: an
//     authentication certificate must allow digitalSignature; an encryption certificate must
//     allow keyEncipherment (RSA) or keyAgreement (EC) and must NOT allow digitalSignature or
//     nonRepudiation (the agent serves each key only for what its certificate allows, and the
//     encryption key carries CKA_SIGN only to sign its own request);
//   - with --chain, it must verify against those issuer certificates, which are stored on the
//     card too (CKA_CERTIFICATE_CATEGORY authority) unless already there.
// The CKO_CERTIFICATE gets the key's CKA_ID and label; the inventory records serial, issuer and
// not-after, and the record becomes active once every key has its certificate.

#include <openssl/x509v3.h>

#include <ctime>
#include <functional>

#include "cli/admin/card_type.h"
#include "cli/admin/failure.h"
#include "cli/admin/inventory.h"
#include "cli/admin/openssl_util.h"
#include "cli/admin/options.h"
#include "cli/admin/pins.h"
#include "cli/admin/piv_cert_store.h"
#include "cli/admin/registration.h"
#include "cli/admin/token_select.h"
#include "cli/command_output.h"
#include "pkcs11/certificate.h"
#include "pkcs11/keys.h"
#include "pkcs11/public_key.h"

namespace attache::cli::admin {
namespace {

struct CertImportOptions {
    std::string module;
    std::string token;
    std::string in;
    std::string chain;
    std::string inventory;
    std::string pin_source;
    std::string management_key_source;  // PIV cards: read for this command only
    std::string management_key_alg;
    bool replace = false;
    bool json = false;
};

// Clock skew tolerated between the CA and this station.
constexpr std::time_t kClockSkew = 5 * 60;

template <typename T, int (*Encode)(const T*, unsigned char**)>
Bytes der_of(const T* value) {
    unsigned char* out = nullptr;
    int len = Encode(value, &out);
    if (len <= 0)
        return {};
    Bytes b(out, out + len);
    OPENSSL_free(out);
    return b;
}

void check_validity(X509* cert) {
    std::time_t now = std::time(nullptr);
    if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0)
        fail(kCertificateRejected, "the certificate expired on " +
                                       time_string(X509_get0_notAfter(cert)) +
                                       "; nothing was changed");
    std::time_t soon = now + kClockSkew;
    if (X509_cmp_time(X509_get0_notBefore(cert), &soon) > 0)
        fail(kCertificateRejected, "the certificate is not valid before " +
                                       time_string(X509_get0_notBefore(cert)) +
                                       "; nothing was changed");
    if (X509_get_extension_flags(cert) & EXFLAG_CA)
        fail(kCertificateRejected, "this is a CA certificate, not a holder's; nothing was changed");
}

void check_chain(X509* cert, const std::vector<X509Ptr>& chain) {
    std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE, X509_STORE_free>> store(X509_STORE_new());
    std::unique_ptr<X509_STORE_CTX, OpenSslFree<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
        X509_STORE_CTX_new());
    if (!store || !ctx)
        fail(kFailure, "out of memory");
    for (const X509Ptr& c : chain)
        X509_STORE_add_cert(store.get(), c.get());
    // The given issuers are the trust anchors, whether or not they are self-signed roots.
    X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1)
        fail(kFailure, "cannot verify the certificate " + openssl_errors());
    if (X509_verify_cert(ctx.get()) != 1) {
        fail(kCertificateRejected,
             std::string("the certificate does not verify against --chain: ") +
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())) +
                 "; nothing was changed");
    }
}

void check_key_usage(X509* cert, const std::string& role, EVP_PKEY* key) {
    if (role == "card-auth")
        fail(kCertificateRejected,
             "the certificate is for the card-authentication key (PIV slot 9E), whose "
             "self-signed certificate `attache enrol` wrote; it is not replaced. Nothing was "
             "changed");
    const bool has_ku = (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0;
    const uint32_t ku = X509_get_key_usage(cert);
    if (!has_ku) {
        fail(kCertificateRejected,
             "the certificate has no keyUsage extension, which would allow "
             "the " +
                 role + " key every use; nothing was changed");
    }
    if (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN))
        fail(kCertificateRejected,
             "the certificate's keyUsage allows signing certificates or "
             "CRLs; nothing was changed");
    if (role == "authentication") {
        if (!(ku & KU_DIGITAL_SIGNATURE))
            fail(kCertificateRejected,
                 "an authentication certificate must allow "
                 "digitalSignature; nothing was changed");
        return;
    }
    if (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) {
        fail(kCertificateRejected,
             "an encryption certificate must not allow digitalSignature or nonRepudiation: the "
             "encryption key can sign only so that it could sign its own request, and its "
             "certificate must keep it from signing anything else; nothing was changed");
    }
    const bool rsa = EVP_PKEY_get_id(key) == EVP_PKEY_RSA;
    const uint32_t needed = rsa ? KU_KEY_ENCIPHERMENT : KU_KEY_AGREEMENT;
    if (!(ku & needed)) {
        fail(kCertificateRejected, std::string("an encryption certificate for this key must "
                                               "allow ") +
                                       (rsa ? "keyEncipherment" : "keyAgreement") +
                                       "; nothing was changed");
    }
}

std::string common_name(X509* cert) {
    X509_NAME* name = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return name_string(name);
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len < 0)
        return name_string(name);
    std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    return out;
}

// Objects this run created, destroyed again if it fails.
class CreatedObjects {
  public:
    explicit CreatedObjects(p11::Session& session) : session_(session) {}
    ~CreatedObjects() {
        for (CK_OBJECT_HANDLE h : handles_)
            (void)session_.destroy(h);
    }
    CreatedObjects(const CreatedObjects&) = delete;
    CreatedObjects& operator=(const CreatedObjects&) = delete;
    void add(CK_OBJECT_HANDLE h) { handles_.push_back(h); }
    void commit() { handles_.clear(); }

  private:
    p11::Session& session_;
    std::vector<CK_OBJECT_HANDLE> handles_;
};

// Stores the issuers not on the card yet; returns how many were stored.
size_t store_chain(p11::Session& session, const std::vector<X509Ptr>& chain,
                   CreatedObjects& created) {
    p11::AttributeTemplate certs;
    certs.add_ulong(CKA_CLASS, CKO_CERTIFICATE);
    std::vector<Bytes> present;
    for (CK_OBJECT_HANDLE h : check(session.find(certs), "listing the card's certificates")) {
        if (auto v = session.read_bytes(h, CKA_VALUE))
            present.push_back(std::move(*v));
    }
    size_t stored = 0;
    for (const X509Ptr& c : chain) {
        Bytes der = certificate_der(c.get());
        if (std::find(present.begin(), present.end(), der) != present.end())
            continue;
        p11::AttributeTemplate t;
        t.add_ulong(CKA_CLASS, CKO_CERTIFICATE)
            .add_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
            .add_ulong(CKA_CERTIFICATE_CATEGORY, 2)  // authority
            .add_bool(CKA_TOKEN, true)
            .add_bool(CKA_PRIVATE, false)
            .add_bool(CKA_MODIFIABLE, true)
            .add_string(CKA_LABEL, common_name(c.get()))
            .add_bytes(CKA_VALUE, der)
            .add_bytes(CKA_SUBJECT,
                       der_of<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(c.get())))
            .add_bytes(CKA_ISSUER, der_of<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(c.get())))
            .add_bytes(CKA_SERIAL_NUMBER,
                       der_of<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(c.get())));
        created.add(check(session.create(std::move(t)),
                          "storing issuer certificate '" + common_name(c.get()) + "'"));
        present.push_back(std::move(der));
        ++stored;
    }
    return stored;
}

struct ImportedCertificate {
    std::string key_id;
    std::string role;
    std::string label;
    size_t chain_stored = 0;
    bool replaced = false;
};

// The certificate recorded in the inventory and the report; `recorded` runs once the inventory
// has it. `not_recorded` says what a failure to record leaves on the card.
Report record_import(Inventory& inventory, const Enrolment& record, X509* cert, const Bytes& der,
                     const ImportedCertificate& imported, const std::string& not_recorded,
                     const std::function<void()>& recorded) {
    const CertificateRecord c = certificate_record(cert, der);
    auto state = inventory.record_certificate(record.id, imported.key_id, c, Operator::current(),
                                              time_string(std::time(nullptr)));
    if (!state)
        fail(kInventory,
             "recording the certificate " + not_recorded + ": " + state.error().message());
    recorded();

    Report report;
    report.json = {
        {"record", record.id},
        {"state", state_name(*state)},
        {"key", {{"role", imported.role}, {"key_id", imported.key_id}, {"label", imported.label}}},
        {"certificate",
         {{"serial", c.serial},
          {"subject", name_string(X509_get_subject_name(cert))},
          {"issuer", c.issuer},
          {"not_after", c.not_after},
          {"sha256", c.sha256}}},
        {"issuers_stored", imported.chain_stored},
        {"replaced", imported.replaced}};
    report.text = "Stored certificate " + c.serial + " from " + c.issuer + " (valid until " +
                  c.not_after + ") for the " + imported.role + " key '" + imported.label +
                  "' (CKA_ID " + imported.key_id + ").\nInventory record " +
                  std::to_string(record.id) + " is " + std::string(state_name(*state)) + ".";
    if (imported.chain_stored > 0)
        report.text +=
            "\nStored " + std::to_string(imported.chain_stored) + " issuer certificate(s).";
    return report;
}

// PIV through OpenSC: the certificate goes to the slot of the recorded key whose public key it
// carries (piv_cert_store.h); issuer certificates are checked, not stored.
Report import_on_piv(const CertImportOptions& o, const SelectedToken& token, Inventory& inventory,
                     const Enrolment& record, X509* cert, const Bytes& der, EVP_PKEY* cert_key,
                     const std::string& cert_spki) {
    const KeyRecord* recorded = nullptr;
    for (const KeyRecord& k : record.keys) {
        if (k.spki_sha256 == cert_spki)
            recorded = &k;
    }
    if (recorded == nullptr)
        fail(kCertificateRejected, "the certificate is for none of the keys inventory record " +
                                       std::to_string(record.id) + " lists (its SPKI SHA-256 is " +
                                       cert_spki + "); nothing was changed");
    auto slot = slot_of_opensc_key_id(recorded->key_id);
    if (!slot)
        fail(kInventory, "the recorded key " + recorded->key_id +
                             " is not in a PIV key slot; nothing was changed");
    check_key_usage(cert, recorded->role, cert_key);
    std::optional<piv::ManagementAlg> alg;
    if (!o.management_key_alg.empty()) {
        alg = piv::management_alg_from_name(o.management_key_alg);
        if (!alg)
            fail(kUsage, "--management-key-alg must be 3des, aes128, aes192 or aes256");
    }
    if (o.management_key_source.empty())
        fail(kUsage, "token " + token.describe() +
                         " is a PIV card: writing its certificates needs its management key. Give "
                         "it with --management-key-source (prompt, fd:N, file:PATH or env:NAME; it "
                         "is never stored); nothing was changed");
    const PivStoreOutcome outcome = store_piv_certificate(
        token, {*slot, cert_key, der, o.replace, o.pin_source, o.management_key_source, alg});
    if (outcome == PivStoreOutcome::already_there)
        note("This certificate is already on the card.");
    if (!o.chain.empty())
        note(
            "The issuer certificates were checked; PIV cards have no place for them, so they "
            "were not stored.");
    ImportedCertificate imported{recorded->key_id, recorded->role, recorded->label, 0,
                                 outcome == PivStoreOutcome::replaced};
    return record_import(inventory, record, cert, der, imported,
                         "(the certificate is on the card; run `attache cert import` again to "
                         "record it)",
                         [] {});
}

Report cert_import(const CertImportOptions& o) {
    // The certificate and its issuers: checked before the card or the inventory is touched.
    auto certs = check(load_certificates(o.in), "--in", kUsage);
    if (certs.size() != 1)
        fail(kUsage, o.in + " holds " + std::to_string(certs.size()) +
                         " certificates; give the holder's alone, and its issuers with --chain");
    X509* cert = certs.front().get();
    std::vector<X509Ptr> chain;
    if (!o.chain.empty())
        chain = check(load_certificates(o.chain), "--chain", kUsage);
    check_validity(cert);
    if (!chain.empty())
        check_chain(cert, chain);
    EVP_PKEY* cert_key = X509_get0_pubkey(cert);
    if (cert_key == nullptr)
        fail(kCertificateRejected,
             "the certificate's public key cannot be read " + openssl_errors());
    const Bytes der = certificate_der(cert);
    const std::string cert_spki = sha256_hex(check(p11::spki_der(cert_key)));

    Inventory inventory = check(Inventory::open(o.inventory, false), {}, kInventory);

    SelectedToken token = select_token(o.module, o.token);
    auto record = check(inventory.open_enrolment(token.info.serial), {}, kInventory);
    if (!record)
        fail(kInventory, "card serial " + token.info.serial + " has no open enrolment in " +
                             o.inventory + "; nothing was changed");
    if (record->state != CardState::awaiting_certificate && record->state != CardState::active)
        fail(kInventory, "inventory record " + std::to_string(record->id) + " is " +
                             std::string(state_name(record->state)) +
                             "; certificates are imported for awaiting-certificate or active "
                             "records only");

    if (card_type_of(token).path == EnrolmentPath::piv)
        return import_on_piv(o, token, inventory, *record, cert, der, cert_key, cert_spki);
    if (!o.management_key_source.empty() || !o.management_key_alg.empty())
        fail(kUsage, "--management-key-source and --management-key-alg are for PIV cards; " +
                         token.describe() + " is not one. Nothing was changed");

    auto session = check(token.module.open_session(token.slot, true), "opening a session");
    login(session, token, o.pin_source, PinRole::user);

    // The card key whose public key is the certificate's.
    std::vector<p11::KeyObject> matches;
    for (p11::KeyObject& k : check(p11::find_keys(session), "listing the card's keys")) {
        if (k.pkey && EVP_PKEY_eq(k.pkey.get(), cert_key) == 1)
            matches.push_back(std::move(k));
    }
    if (matches.empty())
        fail(kCertificateRejected, "the certificate is for a key that is not on " +
                                       token.describe() + " (its SPKI SHA-256 is " + cert_spki +
                                       "); nothing was changed");
    if (matches.size() > 1)
        fail(kMismatch,
             "several keys on the card have the certificate's public key; run "
             "`attache verify-card`");
    p11::KeyObject& key = matches.front();
    const std::string key_id = hex(key.id);
    const KeyRecord* recorded = record->key(key_id);
    if (recorded == nullptr)
        fail(kInventory, "the certificate's key (CKA_ID " + key_id +
                             ") is not one inventory "
                             "record " +
                             std::to_string(record->id) + " lists; nothing was changed");
    if (recorded->spki_sha256 != cert_spki)
        fail(kMismatch, "the card's key " + key_id +
                            " no longer has the public key the "
                            "inventory recorded; run `attache verify-card`. Nothing was changed");
    check_key_usage(cert, recorded->role, cert_key);

    CreatedObjects created(session);
    std::optional<CK_OBJECT_HANDLE> replaced;
    if (key.certificate) {
        if (key.certificate_der == der) {
            note("This certificate is already on the card.");
        } else if (!o.replace) {
            fail(kUsage, "the " + recorded->role +
                             " key already has another certificate on the "
                             "card; add --replace to replace it. Nothing was changed");
        } else {
            replaced = key.certificate;
        }
    }
    if (!key.certificate || replaced)
        created.add(check(p11::create_certificate(session, der, key.id, key.label)));
    size_t chain_stored = store_chain(session, chain, created);

    ImportedCertificate imported{key_id, recorded->role, key.label, chain_stored,
                                 replaced.has_value()};
    return record_import(inventory, *record, cert, der, imported,
                         "(nothing was stored on the card)", [&] {
                             created.commit();
                             if (replaced) {
                                 if (Status s = session.destroy(*replaced); !s)
                                     note(
                                         "warning: the previous certificate could not be "
                                         "removed: " +
                                         s.error().message());
                             }
                         });
}

}  // namespace

void add_cert_commands(CLI::App& app, int& exit_code) {
    CLI::App* cert = app.add_subcommand("cert", "Certificates on the card");
    cert->require_subcommand(1);
    auto o = std::make_shared<CertImportOptions>();
    CLI::App* import = cert->add_subcommand(
        "import", "Store a holder's certificate next to its key and activate the inventory record");
    add_module_option(*import, o->module);
    add_token_option(*import, o->token, true);
    import->add_option("--in", o->in, "the certificate (PEM or DER)")->required();
    import->add_option("--chain", o->chain, "issuer certificates (PEM) to verify it against");
    import->add_flag("--replace", o->replace, "replace the key's current certificate (renewal)");
    add_inventory_option(*import, o->inventory);
    add_secret_source_option(*import, "--pin-source", o->pin_source, "user PIN");
    add_optional_secret_source_option(
        *import, "--management-key-source", o->management_key_source,
        "PIV cards: the card's management key, hex digits (never stored or printed)");
    import->add_option(
        "--management-key-alg", o->management_key_alg,
        "PIV cards: 3des, aes128, aes192 or aes256 (default: from the key's length)");
    add_output_flags(*import, o->json);
    import->callback(
        [o, &exit_code] { run_command(o->json, exit_code, [o] { return cert_import(*o);
});
}  // namespace attache::cli::admin
);
}

}  // namespace attache::cli::admin
