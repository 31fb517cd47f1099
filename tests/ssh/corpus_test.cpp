// The committed seed corpora of ssh_agent_fuzzer and ssh_payload_fuzzer are what seed_corpus()
// and payload_seed_corpus() make. To regenerate them after changing seed_corpus.cpp:
//   ATTACHE_WRITE_SSH_CORPUS=1 ./ssh_protocol_test --gtest_filter='SeedCorpus.*'

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "agent/ssh/constraints.h"
#include "agent/ssh/framing.h"
#include "agent/ssh/session_bind.h"
#include "tests/ssh/seed_corpus.h"
#include "tests/support/temp_dir.h"

namespace attache::ssh {
namespace {

void check_committed(const std::filesystem::path& dir, const std::vector<testing::Seed>& seeds) {
    const char* write = std::getenv("ATTACHE_WRITE_SSH_CORPUS");
    const bool rewrite = write != nullptr && std::string(write) == "1";
    if (rewrite)
        std::filesystem::create_directories(dir);
    for (const auto& seed : seeds) {
        const auto path = dir / seed.name;
        const std::string bytes = to_string(seed.bytes);
        if (rewrite)
            attache::testing::write_file(path, bytes);
        ASSERT_TRUE(std::filesystem::exists(path))
            << path << " is missing; regenerate with ATTACHE_WRITE_SSH_CORPUS=1";
        EXPECT_EQ(attache::testing::read_file(path), bytes)
            << path << " differs; regenerate with ATTACHE_WRITE_SSH_CORPUS=1";
    }
}

TEST(SeedCorpus, CommittedFilesMatch) {
    const auto seeds = testing::seed_corpus();
    EXPECT_GE(seeds.size(), 15u);
    check_committed(ATTACHE_SSH_CORPUS_DIR, seeds);
}

TEST(SeedCorpus, CommittedPayloadFilesMatch) {
    const auto seeds = testing::payload_seed_corpus();
    EXPECT_GE(seeds.size(), 10u);
    check_committed(ATTACHE_SSH_PAYLOAD_CORPUS_DIR, seeds);
}

// The payload seeds reach what they are named for: the deterministic host key's bind
// verifies, the captured ssh-add constraints decode.
TEST(SeedCorpus, PayloadSeedsAreValidWhereTheySaySo) {
    const Bytes sid(32, 0x9d);
    EXPECT_TRUE(verify_session_bind(
        SessionBind{testing::seed_host_key_blob(), sid, testing::seed_host_signature(sid), false}));
    auto c = decode_constraints(testing::ssh_add_destination_constraints());
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(c->destinations);
    ASSERT_EQ(c->destinations->size(), 1u);
    EXPECT_EQ((*c->destinations)[0].to.hostname, "localhost");
    EXPECT_EQ((*c->destinations)[0].to.keys.size(), 1u);
    EXPECT_TRUE((*c->destinations)[0].from.hostname.empty());
    EXPECT_EQ(encode_constraints(*c), testing::ssh_add_destination_constraints());
}

TEST(SeedCorpus, CoversEveryRequestTypeAndTheErrors) {
    size_t valid = 0, failing = 0;
    for (const auto& seed : testing::seed_corpus()) {
        FrameSplitter s;
        if (!s.feed(seed.bytes))
            ++failing;
        while (auto f = s.next())
            ++valid;
    }
    EXPECT_GE(valid, 20u);
    EXPECT_EQ(failing, 2u);  // zero length, oversize
}

}  // namespace
}  // namespace attache::ssh
