// Enrolment end to end: each key type enrolled on a SoftHSM2 token, the requests checked with
// openssl, certificates issued by a throwaway openssl CA and imported, the card inspected with
// pkcs11-tool, and verify-card passing, then failing on a deleted key, a re-keyed card and a
// swapped token.

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "pkcs11/bytes.h"
#include "pkcs11/public_key.h"
#include "tests/enrol/enrol_fixture.h"

namespace attache::enrol_test {
namespace {

std::set<std::string> words(const std::string& list) {
    std::set<std::string> out;
    std::stringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty())
            out.insert(item);
    }
    return out;
}

// The CSR's public key: its CKA_ID by the OpenSC/NSS convention and its SPKI SHA-256.
struct CsrKey {
    std::string sha1_id;
    std::string spki_sha256;
};

CsrKey csr_key(const std::string& csr_path) {
    std::string pem = testing::read_file(csr_path);
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (req == nullptr) {
        ADD_FAILURE() << "cannot parse " << csr_path;
        return {};
    }
    EVP_PKEY* key = X509_REQ_get0_pubkey(req);
    CsrKey out;
    auto material = p11::key_id_material(key);
    EXPECT_TRUE(material) << material.error().message();
    if (material) {
        unsigned char sha1[SHA_DIGEST_LENGTH];
        SHA1(material->data(), material->size(), sha1);
        out.sha1_id = hex(sha1, sizeof sha1);
    }
    auto spki = p11::spki_der(key);
    if (spki) {
        unsigned char sha256[SHA256_DIGEST_LENGTH];
        SHA256(spki->data(), spki->size(), sha256);
        out.spki_sha256 = hex(sha256, sizeof sha256);
    }
    X509_REQ_free(req);
    return out;
}

std::string request_text(const std::string& csr) {
    auto r = testing::run_command({"openssl", "req", "-in", csr, "-noout", "-text"});
    EXPECT_EQ(r.exit_code, 0) << testing::describe(r);
    return r.out;
}

// The text of one extension in `openssl req -text` output: the line after its name.
std::string extension(const std::string& text, const std::string& name) {
    size_t at = text.find(name);
    if (at == std::string::npos)
        return "<missing>";
    size_t line_end = text.find('\n', at);
    size_t next_end = text.find('\n', line_end + 1);
    std::string header = text.substr(at, line_end - at);
    std::string value = text.substr(line_end + 1, next_end - line_end - 1);
    value.erase(0, value.find_first_not_of(' '));
    return header + " => " + value;
}

class EnrolKeyType : public EnrolTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(EnrolKeyType, EnrolsImportsAndVerifies) {
    const std::string type = GetParam();
    const bool rsa = type.rfind("rsa", 0) == 0;
    const std::string encryption_type = type == "ed25519" ? "ec-p256" : type;
    const std::string serial = add_token("card");

    auto r = enrol(serial, type);
    ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    auto j = json_of(r);
    EXPECT_EQ(j["state"], "awaiting-certificate");
    ASSERT_EQ(j["keys"].size(), 2u);
    const auto& auth = j["keys"][0];
    const auto& enc = j["keys"][1];
    EXPECT_EQ(auth["role"], "authentication");
    EXPECT_EQ(enc["role"], "encryption");
    EXPECT_EQ(auth["key_type"], type);
    EXPECT_EQ(enc["key_type"], encryption_type);
    EXPECT_EQ(auth["label"], "Alice Martin authentication");
    EXPECT_EQ(enc["label"], "Alice Martin encryption");
    EXPECT_NE(auth["key_id"], enc["key_id"]);

    for (const auto& key : j["keys"]) {
        const std::string csr = key["csr"];
        // openssl accepts the card's signature on each request.
        auto v = testing::run_command({"openssl", "req", "-in", csr, "-verify", "-noout"});
        EXPECT_EQ(v.exit_code, 0) << testing::describe(v);
        EXPECT_TRUE(contains(v.out + v.err, "verify OK")) << testing::describe(v);
        // CKA_ID is the SHA-1 of the public key; the fingerprint is the SPKI's SHA-256.
        CsrKey k = csr_key(csr);
        EXPECT_EQ(key["key_id"], k.sha1_id);
        EXPECT_EQ(key["spki_sha256"], k.spki_sha256);

        const std::string text = request_text(csr);
        EXPECT_TRUE(contains(text,
                             "Subject: C = FR, O = Ministry, OU = Embassy Paris, "
                             "CN = Alice Martin"))
            << text;
        EXPECT_TRUE(contains(text, "email:alice.martin@example.org")) << text;
        const std::string ku = extension(text, "X509v3 Key Usage");
        const std::string eku = extension(text, "X509v3 Extended Key Usage");
        EXPECT_TRUE(contains(ku, "critical")) << ku;
        if (key["role"] == "authentication") {
            EXPECT_TRUE(contains(ku, "=> Digital Signature")) << ku;
            EXPECT_FALSE(contains(ku, ",")) << ku;  // digitalSignature alone
            EXPECT_TRUE(contains(eku, "TLS Web Client Authentication, E-mail Protection")) << eku;
        } else {
            EXPECT_TRUE(contains(ku, rsa ? "=> Key Encipherment" : "=> Key Agreement")) << ku;
            EXPECT_FALSE(contains(ku, "Digital Signature")) << ku;
            EXPECT_TRUE(contains(eku, "=> E-mail Protection")) << eku;
            EXPECT_FALSE(contains(eku, "Client")) << eku;
        }
    }

    make_ca();
    const std::string auth_cert = issue(auth["csr"], "auth.pem");
    const std::string enc_cert = issue(enc["csr"], "enc.pem");
    auto first = import_certificate(serial, auth_cert, {"--chain", ca_cert()});
    ASSERT_EQ(first.exit_code, 0) << testing::describe(first);
    EXPECT_EQ(json_of(first)["state"], "awaiting-certificate");
    auto second = import_certificate(serial, enc_cert, {"--chain", ca_cert()});
    ASSERT_EQ(second.exit_code, 0) << testing::describe(second);
    EXPECT_EQ(json_of(second)["state"], "active");

    // pkcs11-tool sees each key with its public key and certificate under one CKA_ID, and the
    // private keys with exactly the required attributes.
    const auto objs = objects("card");
    for (const auto& key : j["keys"]) {
        const std::string id = key["key_id"];
        const std::string label = key["label"];
        std::map<std::string, const CardObject*> by_kind;
        for (const CardObject& o : objs) {
            if (o.id == id) {
                EXPECT_EQ(by_kind.count(o.kind), 0u) << "two " << o.kind << " objects for " << id;
                by_kind[o.kind] = &o;
                EXPECT_EQ(o.label, label);
            }
        }
        ASSERT_TRUE(by_kind.count("Private Key")) << id;
        ASSERT_TRUE(by_kind.count("Public Key")) << id;
        ASSERT_TRUE(by_kind.count("Certificate")) << id;
        const CardObject& priv = *by_kind["Private Key"];
        EXPECT_EQ(words(priv.access), (std::set<std::string>{"sensitive", "always sensitive",
                                                             "never extractable", "local"}))
            << priv.access;
        std::set<std::string> usage = {"sign"};
        if (key["role"] == "encryption")
            usage.insert(rsa ? "decrypt" : "derive");
        EXPECT_EQ(words(priv.usage), usage) << priv.usage;
    }

    auto verified = verify_card(serial);
    EXPECT_EQ(verified.exit_code, 0) << testing::describe(verified);
    EXPECT_EQ(json_of(verified)["ok"], true);

    auto shown = attache({"inventory", "show", "1", "--inventory", inventory(), "--json"});
    ASSERT_EQ(shown.exit_code, 0) << testing::describe(shown);
    auto record = json_of(shown);
    EXPECT_EQ(record["state"], "active");
    EXPECT_EQ(record["token"]["serial"], serial);
    EXPECT_EQ(record["token"]["model"], "SoftHSM v2");
    EXPECT_EQ(record["holder"], "Alice Martin");
    EXPECT_EQ(record["enrolled_by"]["uid"], static_cast<std::int64_t>(getuid()));
    for (const auto& key : record["keys"]) {
        ASSERT_FALSE(key["certificate"].is_null());
        EXPECT_EQ(key["certificate"]["issuer"], "CN=Attache Test CA,O=Ministry");
        EXPECT_FALSE(key["certificate"]["not_after"].get<std::string>().empty());
        EXPECT_TRUE(std::filesystem::exists(key["csr"].get<std::string>()));
    }
}

// RSA-3072 once, never 4096 (SoftHSM2 generation is slow); RSA-2048 elsewhere.
INSTANTIATE_TEST_SUITE_P(KeyTypes, EnrolKeyType,
                         ::testing::Values("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "ed25519"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

class VerifyCard : public EnrolTest {
  protected:
    void SetUp() override {
        serial_ = add_token("card");
        auto r = enrol(serial_, "ec-p256");
        ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
        enrolment_ = json_of(r);
        auto v = verify_card(serial_);
        ASSERT_EQ(v.exit_code, 0) << testing::describe(v);
    }

    CommandResult pkcs11_tool(std::vector<std::string> args) {
        std::vector<std::string> argv{
            "pkcs11-tool", "--module", softhsm_module(), "--token-label",
            "card",        "--login",  "--pin",          testing::SoftHsm::kUserPin};
        argv.insert(argv.end(), args.begin(), args.end());
        return testing::run_command(argv);
    }

    std::string serial_;
    nlohmann::json enrolment_;
};

TEST_F(VerifyCard, FailsWhenAKeyWasDeleted) {
    const std::string id = enrolment_["keys"][0]["key_id"];
    auto d = pkcs11_tool({"--delete-object", "--type", "privkey", "--id", id});
    ASSERT_EQ(d.exit_code, 0) << testing::describe(d);

    auto v = verify_card(serial_);
    EXPECT_EQ(v.exit_code, 11) << testing::describe(v);
    auto j = json_of(v);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["keys"][0]["ok"], false);
    EXPECT_TRUE(contains(j["keys"][0]["problems"].dump(), "no private key")) << j.dump(2);
    EXPECT_EQ(j["keys"][1]["ok"], true);
}

TEST_F(VerifyCard, FailsOnARekeyedCard) {
    // Someone replaces the authentication key with one of their own under the same id and label.
    const std::string id = enrolment_["keys"][0]["key_id"];
    ASSERT_EQ(pkcs11_tool({"--delete-object", "--type", "privkey", "--id", id}).exit_code, 0);
    ASSERT_EQ(pkcs11_tool({"--delete-object", "--type", "pubkey", "--id", id}).exit_code, 0);
    auto g = pkcs11_tool({"--keypairgen", "--key-type", "EC:prime256v1", "--id", id, "--label",
                          "Alice Martin authentication", "--usage-sign"});
    ASSERT_EQ(g.exit_code, 0) << testing::describe(g);

    auto v = verify_card(serial_);
    EXPECT_EQ(v.exit_code, 11) << testing::describe(v);
    auto j = json_of(v);
    EXPECT_EQ(j["keys"][0]["ok"], false);
    EXPECT_TRUE(contains(j["keys"][0]["problems"].dump(), "SPKI SHA-256")) << j.dump(2);
}

TEST_F(VerifyCard, FailsOnASwappedToken) {
    // The card is replaced by another one with the same label.
    auto d = testing::run_command({"softhsm2-util", "--delete-token", "--serial", serial_});
    ASSERT_EQ(d.exit_code, 0) << testing::describe(d);
    const std::string other = add_token("card");
    ASSERT_NE(other, serial_);

    auto v = attache({"verify-card", "--module", softhsm_module(), "--token", "pkcs11:token=card",
                      "--inventory", inventory(), "--pin-source", std::string("env:") + kPinVar});
    EXPECT_EQ(v.exit_code, 11) << testing::describe(v);
    EXPECT_TRUE(contains(v.err, "substituted")) << testing::describe(v);

    auto by_record = attache({"verify-card", "--module", softhsm_module(), "--token",
                              "pkcs11:token=card", "--record", "1", "--inventory", inventory(),
                              "--pin-source", std::string("env:") + kPinVar, "--json"});
    EXPECT_EQ(by_record.exit_code, 11) << testing::describe(by_record);
    EXPECT_TRUE(contains(json_of(by_record)["card_problems"].dump(), "substituted"))
        << by_record.out;
}

TEST_F(EnrolTest, TokenListShowsTokensFlagsAndMechanisms) {
    const std::string serial = add_token("listed");
    auto r = attache({"token", "list", "--module", softhsm_module(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    auto j = json_of(r);
    EXPECT_FALSE(j["module"]["path"].get<std::string>().empty());
    bool found = false;
    for (const auto& slot : j["slots"]) {
        if (!slot.contains("token") || slot["token"]["serial"] != serial)
            continue;
        found = true;
        const auto& t = slot["token"];
        EXPECT_EQ(t["label"], "listed");
        EXPECT_EQ(t["model"], "SoftHSM v2");
        EXPECT_TRUE(contains(t["uri"], "serial=" + serial)) << t["uri"];
        EXPECT_TRUE(contains(t["flags"].dump(), "token-initialized")) << t["flags"];
        EXPECT_TRUE(t.contains("pin_flags"));
        EXPECT_EQ(t["min_pin_length"], 4);
        EXPECT_TRUE(contains(t["mechanisms"].dump(), "CKM_EC_KEY_PAIR_GEN"));
        EXPECT_TRUE(contains(t["enrollable_key_types"].dump(), "rsa-2048"));
    }
    EXPECT_TRUE(found) << r.out;

    auto text = attache({"token", "list", "--module", softhsm_module(), "--token", uri(serial)});
    ASSERT_EQ(text.exit_code, 0) << testing::describe(text);
    EXPECT_TRUE(contains(text.out, "serial " + serial)) << text.out;
    EXPECT_TRUE(contains(text.out, "PIN flags")) << text.out;
}

}  // namespace
}  // namespace attache::enrol_test
