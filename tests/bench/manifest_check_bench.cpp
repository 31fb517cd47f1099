// attache-manifest-check-bench: what the managed broker's card check costs per request.
// ManifestHolders::check_card and ::lists_key run on every request in managed mode; this times
// them in a loop on a SoftHSM2 token with one P-256 key, against a signed manifest on disk.
// Prints microseconds per call; asserts nothing about time (run it by hand, never in CI).
//
//   attache-manifest-check-bench [iterations]

#include <openssl/sha.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "agent/core/token.h"
#include "agent/managed/manifest_holders.h"
#include "pkcs11/card_manifest/card_manifest.h"
#include "pkcs11/card_manifest/manifest_signature.h"
#include "pkcs11/keygen.h"
#include "pkcs11/module.h"
#include "tests/support/command.h"
#include "tests/support/softhsm.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "attache-manifest-check-bench: %s\n", what.c_str());
    std::exit(1);
}

std::string sha256_of(const Bytes& data) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(data.data(), data.size(), digest);
    return hex(digest, sizeof digest);
}

template <typename Fn>
double microseconds_per_call(long iterations, Fn&& fn) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i)
        fn();
    const std::chrono::duration<double, std::micro> spent =
        std::chrono::steady_clock::now() - start;
    return spent.count() / static_cast<double>(iterations);
}

int run(long iterations) {
    SoftHsm hsm;
    const CK_SLOT_ID slot = hsm.add_token("bench-card");
    auto module = p11::Module::load(SoftHsm::module_path());
    if (!module)
        fail(module.error().message());
    {
        auto session = module->open_session(slot, true);
        if (!session)
            fail(session.error().message());
        Secret pin;
        Secret::from(SoftHsm::kUserPin, pin);
        if (auto s = session->login(CKU_USER, &pin); !s)
            fail(s.error().message());
        p11::KeyPairSpec spec;
        spec.algorithm = p11::KeyAlgorithm::ec_p256;
        spec.usage.sign = true;
        spec.label = "key";
        spec.id = {0x01};
        if (auto r = p11::generate_key_pair(*session, spec); !r)
            fail(r.error().message());
    }
    auto info = module->token_info(slot);
    if (!info)
        fail(info.error().message());
    agent::Token token(*module, slot, *info, {});
    if (auto s = token.scan(); !s)
        fail(s.error().message());
    const auto keys = token.keys();
    if (keys.size() != 1)
        fail("the token shows " + std::to_string(keys.size()) + " keys, not 1");

    TempDir dir("attache-manifest-bench");
    manifest::CardManifest m;
    m.issued_at = "2026-12-02T00:00:00Z";
    m.sequence = 1;
    m.cards.push_back({token.serial(),
                       info->model,
                       info->manufacturer,
                       "bench",
                       "active",
                       {{"authentication", sha256_of(keys[0]->spki)}}});
    const auto admin = dir / "admin.pem";
    if (run_command({"openssl", "genpkey", "-algorithm", "ed25519", "-out", admin.string()})
                .exit_code != 0 ||
        run_command({"openssl", "pkey", "-in", admin.string(), "-pubout", "-out",
                     (dir / "signer.pem").string()})
                .exit_code != 0) {
        fail("openssl could not make the admin key");
    }
    const std::string text = manifest::serialize(m);
    auto signature = manifest::sign_manifest(text, read_file(admin));
    if (!signature)
        fail(signature.error().message());
    write_file(dir / "cards.manifest", text);
    write_file(dir / "cards.manifest.sig", *signature);
    auto holders = agent::ManifestHolders::load({dir / "cards.manifest", dir / "signer.pem"});
    if (!holders)
        fail(holders.error().message());
    if (!(*holders)->check_card(token, "bench").served || !(*holders)->lists_key(token, *keys[0]))
        fail("the bench card is not served");

    bool served = true;
    const double check = microseconds_per_call(
        iterations, [&] { served = (*holders)->check_card(token, "bench").served && served; });
    const double listed = microseconds_per_call(
        iterations, [&] { served = (*holders)->lists_key(token, *keys[0]) && served; });
    if (!served)
        fail("a check refused the card");
    std::printf("check_card %.3f us/call, lists_key %.3f us/call (%ld calls each)\n", check, listed,
                iterations);
    return 0;
}

}  // namespace
}  // namespace attache::testing

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
    if (iterations <= 0) {
        std::fprintf(stderr, "usage: attache-manifest-check-bench [iterations]\n");
        return 2;
    }
    return attache::testing::run(iterations);
}
