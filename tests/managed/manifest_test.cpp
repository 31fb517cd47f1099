// The card manifest's format and signatures, managed.conf, and the root's-alone path check:
// what the broker and the clients decide from before anything is served.

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "pkcs11/agent_protocol/agent_endpoint.h"
#include "pkcs11/card_manifest/card_manifest.h"
#include "pkcs11/card_manifest/manifest_signature.h"
#include "pkcs11/trusted_path.h"
#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

manifest::CardManifest sample() {
    manifest::CardManifest m;
    m.issued_at = "2026-12-02T04:30:00Z";
    m.sequence = 7;
    m.cards.push_back(
        {"a1",
         "PIV",
         "piv_II",
         "alice",
         "active",
         {{"authentication", std::string(64, 'a')}, {"encryption", std::string(64, 'b')}}});
    m.cards.push_back({"b2", "PIV", "piv_II", "bob", "lost", {}});
    return m;
}

std::string key(const TempDir& dir, const std::string& algorithm) {
    const auto path = dir / (algorithm + ".pem");
    std::vector<std::string> argv{"openssl", "genpkey", "-out", path.string()};
    if (algorithm == "p256") {
        argv.insert(argv.end(), {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
    } else {
        argv.insert(argv.end(), {"-algorithm", algorithm});
    }
    EXPECT_EQ(run_command(argv).exit_code, 0);
    return read_file(path);
}

TEST(CardManifest, RoundTripsOneCardPerLine) {
    const std::string text = manifest::serialize(sample());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
    auto parsed = manifest::parse(text);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->sequence, 7u);
    ASSERT_EQ(parsed->cards.size(), 2u);
    EXPECT_TRUE(parsed->cards[0].active());
    EXPECT_FALSE(parsed->cards[1].active());
    EXPECT_TRUE(parsed->cards[0].lists_key(std::string(64, 'b')));
    EXPECT_FALSE(parsed->cards[0].lists_key(std::string(64, 'c')));
    EXPECT_NE(parsed->find("a1", "PIV"), nullptr);
    EXPECT_EQ(parsed->find("a1", "other model"), nullptr);
}

TEST(CardManifest, RefusesWhatItCannotTrust) {
    auto error_of = [](const std::string& text) {
        auto r = manifest::parse(text);
        return r ? std::string("parsed") : r.error().message();
    };
    EXPECT_NE(error_of("not json").find("not a JSON object"), std::string::npos);
    EXPECT_NE(
        error_of(R"({"format":"attache-card-manifest/9","issued_at":"x","sequence":1,"cards":[]})")
            .find("format"),
        std::string::npos);
    const std::string dup =
        R"({"format":"attache-card-manifest/1","issued_at":"x","sequence":1,"cards":[
{"serial":"a","model":"m","manufacturer":"x","holder":"h","state":"active","keys":[]},
{"serial":"a","model":"m","manufacturer":"x","holder":"h","state":"active","keys":[]}]})";
    EXPECT_NE(error_of(dup).find("twice"), std::string::npos);
    const std::string bad_hash =
        R"({"format":"attache-card-manifest/1","issued_at":"x","sequence":1,"cards":[
{"serial":"a","model":"m","manufacturer":"x","holder":"h","state":"active","keys":[{"role":"authentication","spki_sha256":"ABC"}]}]})";
    EXPECT_NE(error_of(bad_hash).find("64 lower-case hex"), std::string::npos);
    EXPECT_NE(
        error_of(R"({"format":"attache-card-manifest/1","issued_at":"x","sequence":-1,"cards":[]})")
            .find("sequence"),
        std::string::npos);
}

// A manifest as an attache without the card-auth key wrote it, and one whose keys carry no
// role at all: both parse, and name no card-auth key (the broker then asks no challenge).
TEST(CardManifest, ManifestsWithoutCardAuthKeysOrRolesStillParse) {
    const std::string older =
        R"({"format":"attache-card-manifest/1","issued_at":"2026-12-01T10:00:00Z","sequence":3,"cards":[
{"serial":"a1","model":"PIV","manufacturer":"piv_II","holder":"alice","state":"active","keys":[{"role":"authentication","spki_sha256":")" +
        std::string(64, 'a') + R"("},{"role":"encryption","spki_sha256":")" + std::string(64, 'b') +
        R"("}]}
]}
)";
    auto parsed = manifest::parse(older);
    ASSERT_TRUE(parsed) << parsed.error().message();
    ASSERT_EQ(parsed->cards.size(), 1u);
    EXPECT_EQ(parsed->cards[0].card_auth_key(), nullptr);
    EXPECT_EQ(parsed->cards[0].keys[0].role, "authentication");

    const std::string roleless =
        R"({"format":"attache-card-manifest/1","issued_at":"x","sequence":1,"cards":[
{"serial":"a","model":"m","manufacturer":"x","holder":"h","state":"active","keys":[{"spki_sha256":")" +
        std::string(64, 'c') + R"("}]}]})";
    auto plain = manifest::parse(roleless);
    ASSERT_TRUE(plain) << plain.error().message();
    EXPECT_TRUE(plain->cards[0].lists_key(std::string(64, 'c')));
    EXPECT_EQ(plain->cards[0].keys[0].role, "");
    EXPECT_EQ(plain->cards[0].card_auth_key(), nullptr);
    // Written again, a key without a role stays without one (no role is invented).
    EXPECT_EQ(manifest::serialize(*plain).find("role"), std::string::npos);

    // A role that is not a string is still refused.
    const std::string bad_role =
        R"({"format":"attache-card-manifest/1","issued_at":"x","sequence":1,"cards":[
{"serial":"a","model":"m","manufacturer":"x","holder":"h","state":"active","keys":[{"role":7,"spki_sha256":")" +
        std::string(64, 'c') + R"("}]}]})";
    auto refused = manifest::parse(bad_role);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("`role`"), std::string::npos);
}

TEST(CardManifest, TheCardAuthKeyRoundTrips) {
    manifest::CardManifest m = sample();
    m.cards[0].keys.push_back({"card-auth", std::string(64, 'e')});
    const std::string text = manifest::serialize(m);
    EXPECT_NE(text.find(R"({"role":"card-auth","spki_sha256":")" + std::string(64, 'e')),
              std::string::npos)
        << text;
    auto parsed = manifest::parse(text);
    ASSERT_TRUE(parsed) << parsed.error().message();
    const manifest::ManifestKey* card_auth = parsed->cards[0].card_auth_key();
    ASSERT_NE(card_auth, nullptr);
    EXPECT_EQ(card_auth->spki_sha256, std::string(64, 'e'));
    EXPECT_EQ(parsed->cards[1].card_auth_key(), nullptr);
}

TEST(ManifestSignature, VerifiesTheExactBytesWithEd25519AndP256) {
    TempDir dir("attache-manifest");
    for (const char* algorithm : {"ed25519", "p256"}) {
        const std::string private_pem = key(dir, algorithm);
        auto public_pem = manifest::public_key_pem(private_pem);
        ASSERT_TRUE(public_pem) << public_pem.error().message();
        const std::string text = manifest::serialize(sample());
        auto signature = manifest::sign_manifest(text, private_pem);
        ASSERT_TRUE(signature) << signature.error().message();
        EXPECT_TRUE(manifest::verify_manifest(text, *signature, *public_pem)) << algorithm;
        // One byte changed.
        std::string altered = text;
        altered[altered.find("lost") + 3] = 'e';
        EXPECT_FALSE(manifest::verify_manifest(altered, *signature, *public_pem)) << algorithm;
        // Another admin's key.
        auto other = manifest::public_key_pem(key(dir, std::string("ed25519")));
        ASSERT_TRUE(other);
        EXPECT_FALSE(manifest::verify_manifest(text, *signature, *other)) << algorithm;
        EXPECT_FALSE(manifest::verify_manifest(text, "not base64!", *public_pem));
    }
    EXPECT_FALSE(manifest::sign_manifest("x", key(dir, "RSA")));  // only Ed25519 and P-256
}

TEST(ManifestSignature, OpensslVerifiesWhatTheCliSigns) {
    // The signature is a standard detached Ed25519 signature: `openssl pkeyutl` checks it.
    TempDir dir("attache-manifest");
    const std::string private_pem = key(dir, "ed25519");
    const std::string text = manifest::serialize(sample());
    auto signature = manifest::sign_manifest(text, private_pem);
    ASSERT_TRUE(signature);
    write_file(dir / "m", text);
    write_file(dir / "m.sig.b64", *signature);
    ASSERT_EQ(run_command({"openssl", "base64", "-d", "-in", (dir / "m.sig.b64").string(), "-out",
                           (dir / "m.sig").string()})
                  .exit_code,
              0);
    write_file(dir / "pub.pem", *manifest::public_key_pem(private_pem));
    auto r = run_command({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                          (dir / "pub.pem").string(), "-rawin", "-in", (dir / "m").string(),
                          "-sigfile", (dir / "m.sig").string()});
    EXPECT_NE(r.out.find("Signature Verified Successfully"), std::string::npos) << describe(r);
}

TEST(ManifestSignature, AManifestSignedBeforeTheCardAuthRoleStillVerifiesAndParses) {
    // Signed outside attache (openssl), over bytes as the earlier exporter wrote them: this
    // build verifies the same bytes and parses them, with no card-auth key.
    TempDir dir("attache-manifest");
    const std::string private_pem = key(dir, "ed25519");
    write_file(dir / "key.pem", private_pem);
    const std::string older =
        R"({"format":"attache-card-manifest/1","issued_at":"2026-12-01T10:00:00Z","sequence":3,"cards":[
{"serial":"a1","model":"PIV","manufacturer":"piv_II","holder":"alice","state":"active","keys":[{"role":"authentication","spki_sha256":")" +
        std::string(64, 'a') + R"("}]}
]}
)";
    write_file(dir / "m", older);
    ASSERT_EQ(run_command({"openssl", "pkeyutl", "-sign", "-inkey", (dir / "key.pem").string(),
                           "-rawin", "-in", (dir / "m").string(), "-out", (dir / "m.sig").string()})
                  .exit_code,
              0);
    auto b64 = run_command({"openssl", "base64", "-A", "-in", (dir / "m.sig").string()});
    ASSERT_EQ(b64.exit_code, 0) << describe(b64);
    auto public_pem = manifest::public_key_pem(private_pem);
    ASSERT_TRUE(public_pem);
    EXPECT_TRUE(manifest::verify_manifest(older, b64.out, *public_pem));
    auto parsed = manifest::parse(older);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_TRUE(parsed->cards[0].lists_key(std::string(64, 'a')));
    EXPECT_EQ(parsed->cards[0].card_auth_key(), nullptr);
}

TEST(ManagedConf, ParsesItsTwoKeysAndRefusesOthers) {
    auto m = protocol::parse_managed_conf("# c\nsocket_dir = /run/x\nbroker_user = b\n", "f");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->socket_dir, "/run/x");
    EXPECT_EQ(m->broker_user, "b");
    auto relative = protocol::parse_managed_conf("socket_dir = run\n", "f");
    ASSERT_FALSE(relative);
    EXPECT_NE(relative.error().message().find("f:1"), std::string::npos);
    EXPECT_FALSE(protocol::parse_managed_conf("user = x\n", "f"));
    EXPECT_FALSE(protocol::parse_managed_conf("socket_dir\n", "f"));
}

TEST(TrustedPath, RefusesAFileInAWorldWritableDirectoryOrOwnedByAUser) {
    TempDir dir("attache-trusted");  // under /tmp, which everyone may write to
    write_file(dir / "agent.toml", "");
    auto refused = check_root_owned(dir / "agent.toml");
    ASSERT_FALSE(refused);
    if (geteuid() == 0) {
        EXPECT_NE(refused.error().message().find("/tmp is writable by everyone"), std::string::npos)
            << refused.error().message();
    } else {
        EXPECT_NE(refused.error().message().find("not root"), std::string::npos)
            << refused.error().message();
    }
    EXPECT_TRUE(check_root_owned("/usr/lib"));
    EXPECT_FALSE(check_root_owned("relative/path"));
    EXPECT_FALSE(check_root_owned("/nonexistent/file"));
}

}  // namespace
}  // namespace attache::testing
