// Fuzz target: manifest::parse, the broker's reader of the card manifest. The broker parses
// only bytes whose signature verified, but the admin's tools and older or newer exporters write
// them: any input must parse or be refused without a crash, a leak or undefined behaviour, and
// what parses must write back (serialize) to bytes that parse to the same manifest.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkcs11/card_manifest/card_manifest.h"
#include "tests/fuzz/fuzz_check.h"

using attache::fuzz::check;
namespace manifest = attache::manifest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto parsed = manifest::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!parsed)
        return 0;
    const std::string written = manifest::serialize(*parsed);
    auto again = manifest::parse(written);
    check(again.has_value(), "a parsed manifest, written again, does not parse");
    check(manifest::serialize(*again) == written, "the manifest does not round-trip");
    check(again->cards.size() == parsed->cards.size(), "cards lost in the round trip");
    for (size_t i = 0; i < parsed->cards.size(); ++i) {
        const manifest::ManifestKey* before = parsed->cards[i].card_auth_key();
        const manifest::ManifestKey* after = again->cards[i].card_auth_key();
        check((before == nullptr) == (after == nullptr), "the card-auth key changed");
        check(before == nullptr || before->spki_sha256 == after->spki_sha256,
              "the card-auth key's SPKI changed");
    }
    return 0;
}
