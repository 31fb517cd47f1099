// --key: a key id, a PKCS#11 URI, a unique label, or an unambiguous prefix of a key id.
// Ambiguous and unknown names are failures (exit 7) that say which keys there are.

#include <algorithm>
#include <map>

#include "tests/cli/cli_fixture.h"

namespace attache::testing {
namespace {

class KeyOptionTest : public CliTest {
  protected:
    // 17 more EC keys: with 19 ids of 16 hex digits, two share their first digit for sure.
    void SetUp() override {
        std::vector<TestKey> extra;
        for (int i = 0; i < 17; ++i)
            extra.push_back({p11::KeyAlgorithm::ec_p256, "k" + std::to_string(i), {.sign = true}});
        extra.push_back({p11::KeyAlgorithm::ec_p256, "twin", {.sign = true}});
        extra.push_back({p11::KeyAlgorithm::ec_p256, "twin", {.sign = true}});
        add_card(extra);
        start();
        auto keys = json_of(attache({"keys", "--json"}));
        for (const auto& k : keys["keys"])
            ids_.push_back(k["id"]);
    }

    // The key id `pubkey --key ref --json` settled on; empty when it failed.
    std::string resolved(const std::string& ref) {
        auto j = json_of(attache({"pubkey", "--key", ref, "--json"}));
        return j.value("ok", false) ? j["key"].get<std::string>() : std::string();
    }
    std::vector<std::string> ids_;
};

TEST_F(KeyOptionTest, UniqueLabelNamesItsKey) {
    EXPECT_EQ(resolved("k3"), agent_.key("k3").id);
    EXPECT_EQ(resolved("ec-sign"), agent_.key("ec-sign").id);
    // The key id and the URI still work.
    EXPECT_EQ(resolved(agent_.key("k3").id), agent_.key("k3").id);
    EXPECT_EQ(resolved(agent_.key("k3").uri), agent_.key("k3").id);
}

TEST_F(KeyOptionTest, AmbiguousLabelListsTheCandidates) {
    auto r = attache({"pubkey", "--key", "twin", "--json"});
    EXPECT_EQ(r.exit_code, 7) << describe(r);
    auto j = json_of(r);
    EXPECT_EQ(j["ok"], false);
    ASSERT_EQ(j["candidates"].size(), 2u) << j.dump();
    for (const auto& c : j["candidates"]) {
        EXPECT_EQ(c["label"], "twin");
        EXPECT_NE(r.err.find(c["id"].get<std::string>()), std::string::npos) << r.err;
    }
}

TEST_F(KeyOptionTest, UnambiguousPrefixNamesItsKey) {
    ASSERT_EQ(ids_.size(), 21u);
    // The shortest prefix of the first id that no other id shares.
    const std::string& id = ids_.front();
    size_t n = 1;
    for (; n < id.size(); ++n) {
        const std::string prefix = id.substr(0, n);
        if (std::count_if(ids_.begin(), ids_.end(),
                          [&](const std::string& other) { return other.starts_with(prefix); }) == 1)
            break;
    }
    ASSERT_LT(n, id.size());
    EXPECT_EQ(resolved(id.substr(0, n)), id);
}

TEST_F(KeyOptionTest, AmbiguousPrefixListsTheCandidates) {
    std::map<char, int> first;
    for (const auto& id : ids_)
        ++first[id[0]];
    auto shared = std::find_if(first.begin(), first.end(), [](auto& e) { return e.second > 1; });
    ASSERT_NE(shared, first.end());
    auto r = attache({"sign", "--key", std::string(1, shared->first), "--json"}, "m");
    EXPECT_EQ(r.exit_code, 7) << describe(r);
    EXPECT_EQ(json_of(r)["candidates"].size(), static_cast<size_t>(shared->second));
    EXPECT_NE(r.err.find("several keys match"), std::string::npos) << r.err;
    EXPECT_EQ(audit_count("sign"), 0u);
}

TEST_F(KeyOptionTest, UnknownNameSaysWhereToLook) {
    auto r = attache({"sign", "--key", "no-such-key", "--json"}, "m");
    EXPECT_EQ(r.exit_code, 7) << describe(r);
    EXPECT_NE(r.err.find("attache keys"), std::string::npos) << r.err;
    EXPECT_FALSE(json_of(r).contains("candidates"));
}

}  // namespace
}  // namespace attache::testing
