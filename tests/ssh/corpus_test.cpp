// The committed seed corpus of ssh_agent_fuzzer is what seed_corpus() makes. To regenerate it
// after changing seed_corpus.cpp:
//   ATTACHE_WRITE_SSH_CORPUS=1 ./ssh_protocol_test --gtest_filter='SeedCorpus.*'

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "agent/ssh/framing.h"
#include "tests/ssh/seed_corpus.h"
#include "tests/support/temp_dir.h"

namespace attache::ssh {
namespace {

TEST(SeedCorpus, CommittedFilesMatch) {
    const std::filesystem::path dir = ATTACHE_SSH_CORPUS_DIR;
    const char* write = std::getenv("ATTACHE_WRITE_SSH_CORPUS");
    const bool rewrite = write != nullptr && std::string(write) == "1";
    if (rewrite)
        std::filesystem::create_directories(dir);
    const auto seeds = testing::seed_corpus();
    EXPECT_GE(seeds.size(), 15u);
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
