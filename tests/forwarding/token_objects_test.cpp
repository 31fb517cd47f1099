// What the module shows of a token's objects, as the token has them: a certificate keeps its
// own label, the CA certificates stored on the card (as `attache cert import --chain` stores
// them: CKA_CERTIFICATE_CATEGORY 2, no CKA_ID) are authority certificates, and C_DecryptInit
// knows which OAEP hashes the token does without asking it to decrypt (no decrypt request, so
// no audit line and no confirmation dialog).

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstring>

#include "pkcs11/certificate.h"
#include "pkcs11/keys.h"
#include "tests/forwarding/forwarding_fixture.h"

namespace attache::testing {
namespace {

Bytes pem_to_der(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                  BIO_free);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert)
        throw std::runtime_error("not a PEM certificate");
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert.get(), &der);
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

std::string common_name(const Bytes& der) {
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, long(der.size())));
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
    return cn;
}

Bytes name_der(const Bytes& der, bool subject) {
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, long(der.size())));
    X509_NAME* name =
        subject ? X509_get_subject_name(cert.get()) : X509_get_issuer_name(cert.get());
    unsigned char* out = nullptr;
    const int len = i2d_X509_NAME(name, &out);
    Bytes b(out, out + len);
    OPENSSL_free(out);
    return b;
}

CK_ULONG ulong_of(const Bytes& b) {
    CK_ULONG v = 0;
    if (b.size() == sizeof v)
        std::memcpy(&v, b.data(), sizeof v);
    return v;
}

class TokenObjectsTest : public ForwardingTest {
  protected:
    void SetUp() override {
        const std::vector<TestKey> keys = {
            {p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}},
            {p11::KeyAlgorithm::rsa2048, "rsa-decrypt", {.decrypt = true}}};
        const CK_SLOT_ID slot = agent_.add_token("alice", keys);
        auto module = p11::Module::load(SoftHsm::module_path());
        ASSERT_TRUE(module) << module.error().message();
        auto session = module->open_session(slot, true);
        ASSERT_TRUE(session) << session.error().message();
        Secret pin;
        Secret::from(SoftHsm::kUserPin, pin);
        ASSERT_TRUE(session->login(CKU_USER, &pin));
        auto found = p11::find_keys(*session);
        ASSERT_TRUE(found) << found.error().message();
        for (const auto& k : *found) {
            const Usage usage = k.label == "rsa-decrypt" ? Usage::decrypt : Usage::sign;
            Bytes der = ca_.issue(k.pkey.get(), "alice " + k.label, usage);
            // The card's certificate labels differ from its key labels for one key.
            const std::string label =
                k.label == "ec-sign" ? "Alice's signing certificate" : k.label;
            ASSERT_TRUE(p11::create_certificate(*session, der, k.id, label));
            certificates_[k.label] = der;
        }
        // The issuer, as `attache cert import --chain` stores it (cli/admin/cert_import.cpp).
        ca_der_ = pem_to_der(ca_.cert_pem());
        const std::string ca_label = common_name(ca_der_);
        p11::AttributeTemplate t;
        t.add_ulong(CKA_CLASS, CKO_CERTIFICATE)
            .add_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
            .add_ulong(CKA_CERTIFICATE_CATEGORY, 2)
            .add_bool(CKA_TOKEN, true)
            .add_bool(CKA_PRIVATE, false)
            .add_string(CKA_LABEL, ca_label)
            .add_bytes(CKA_VALUE, ca_der_)
            .add_bytes(CKA_SUBJECT, name_der(ca_der_, true))
            .add_bytes(CKA_ISSUER, name_der(ca_der_, false));
        auto created = session->create(std::move(t));
        ASSERT_TRUE(created) << created.error().message();
        (void)session->logout();
        agent_.start();
        initialize();
    }

    std::vector<CK_OBJECT_HANDLE> certificates_of_category(CK_SESSION_HANDLE s, CK_ULONG category) {
        CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
        return find_all(s, {{CKA_CLASS, &klass, sizeof klass},
                            {CKA_CERTIFICATE_CATEGORY, &category, sizeof category}});
    }

    Bytes ca_der_;
};

TEST_F(TokenObjectsTest, CertificatesKeepTheirOwnLabels) {
    agent_.unlock();
    CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE cert = find(s, CKO_CERTIFICATE, "Alice's signing certificate");
    ASSERT_NE(cert, CK_INVALID_HANDLE) << "the certificate is found by its own label";
    EXPECT_EQ(attribute(s, cert, CKA_VALUE), certificates_.at("ec-sign"));
    EXPECT_EQ(find(s, CKO_CERTIFICATE, "ec-sign"), CK_INVALID_HANDLE);
    // The keys keep theirs, and the certificate its key's CKA_ID.
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(key, CK_INVALID_HANDLE);
    EXPECT_NE(find(s, CKO_PUBLIC_KEY, "ec-sign"), CK_INVALID_HANDLE);
    EXPECT_EQ(attribute(s, cert, CKA_ID), attribute(s, key, CKA_ID));
    EXPECT_NE(find(s, CKO_CERTIFICATE, "rsa-decrypt"), CK_INVALID_HANDLE);
}

TEST_F(TokenObjectsTest, StoredCaCertificatesAreAuthorities) {
    for (bool logged_in : {false, true}) {
        SCOPED_TRACE(logged_in ? "logged in" : "public session");
        if (!logged_in)
            agent_.cli({"lock"});
        else
            agent_.unlock();
        CK_SESSION_HANDLE s = open_session(only_slot());
        auto authorities = certificates_of_category(s, 2);
        ASSERT_EQ(authorities.size(), 1u) << agent_.log();
        EXPECT_EQ(attribute(s, authorities[0], CKA_VALUE), ca_der_);
        EXPECT_EQ(attribute(s, authorities[0], CKA_LABEL), to_bytes(common_name(ca_der_)));
        EXPECT_EQ(attribute(s, authorities[0], CKA_ID), Bytes{});
        EXPECT_EQ(attribute(s, authorities[0], CKA_PRIVATE), Bytes{CK_FALSE});
        // The keys' own certificates are the token user's.
        EXPECT_EQ(certificates_of_category(s, 1).size(), 2u);
        const CK_OBJECT_HANDLE user = find(s, CKO_CERTIFICATE, "rsa-decrypt");
        ASSERT_NE(user, CK_INVALID_HANDLE);
        EXPECT_EQ(ulong_of(attribute(s, user, CKA_CERTIFICATE_CATEGORY)), 1u);
        // A certificate is no key.
        CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
        EXPECT_EQ(p11().C_SignInit(s, &m, authorities[0]), CKR_KEY_HANDLE_INVALID);
        check_rv(p11().C_CloseSession(s), "C_CloseSession");
    }
}

TEST_F(TokenObjectsTest, OaepHashTheTokenLacksIsRefusedAtInitWithoutADecryption) {
    agent_.unlock();
    CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "rsa-decrypt");
    ASSERT_NE(key, CK_INVALID_HANDLE);
    // SoftHSM2 2.6 does OAEP with SHA-1 only.
    for (auto [hash, mgf] :
         {std::pair{CKM_SHA256, CKG_MGF1_SHA256}, std::pair{CKM_SHA384, CKG_MGF1_SHA384},
          std::pair{CKM_SHA512, CKG_MGF1_SHA512}}) {
        CK_RSA_PKCS_OAEP_PARAMS params{hash, mgf, CKZ_DATA_SPECIFIED, nullptr, 0};
        CK_MECHANISM m{CKM_RSA_PKCS_OAEP, &params, sizeof params};
        EXPECT_EQ(p11().C_DecryptInit(s, &m, key), CKR_MECHANISM_PARAM_INVALID) << hash;
    }
    CK_RSA_PKCS_OAEP_PARAMS sha1{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
    CK_MECHANISM oaep{CKM_RSA_PKCS_OAEP, &sha1, sizeof sha1};
    EXPECT_EQ(p11().C_DecryptInit(s, &oaep, key), CKR_OK);
    check_rv(p11().C_DecryptInit(s, nullptr, CK_INVALID_HANDLE), "ending the operation");
    CK_MECHANISM pkcs1{CKM_RSA_PKCS, nullptr, 0};
    EXPECT_EQ(p11().C_DecryptInit(s, &pkcs1, key), CKR_OK);
    check_rv(p11().C_DecryptInit(s, nullptr, CK_INVALID_HANDLE), "ending the operation");
    // Nothing was decrypted to find out: no decrypt request, so no audit line for one.
    const std::string log = agent_.log();
    EXPECT_EQ(log.find("op=decrypt"), std::string::npos) << log;
    EXPECT_NE(log.find("op=unlock"), std::string::npos) << "the audit log is the one read: " << log;
}

}  // namespace
}  // namespace attache::testing
