#include "tests/cli/cli_fixture.h"

#include <openssl/evp.h>

#include <filesystem>
#include <regex>

#include "pkcs11/public_key.h"

namespace attache::testing {

namespace fs = std::filesystem;

void CliTest::SetUp() {
    add_card();
    start();
}

void CliTest::add_card(const std::vector<TestKey>& extra_keys) {
    std::vector<TestKey> keys = {
        {p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}},
        {p11::KeyAlgorithm::rsa2048, "rsa-decrypt", {.decrypt = true}},
    };
    keys.insert(keys.end(), extra_keys.begin(), extra_keys.end());
    agent_.add_token("alice", keys);
}

void CliTest::start(const AgentOptions& options) {
    agent_.start(options);
    agent_.unlock();
}

size_t CliTest::audit_count(const std::string& op) const {
    const std::string log = agent_.log();
    const std::string needle = "audit: op=" + op + " ";
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
        ++n;
    return n;
}

nlohmann::json json_of(const CommandResult& r) {
    try {
        return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << describe(r);
        return nullptr;
    }
}

bool signature_verifies(const protocol::KeyEntry& key, const std::string& message,
                        const std::string& signature) {
    auto pkey = p11::pkey_from_spki(key.spki);
    if (!pkey)
        return false;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok =
        EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey->get()) == 1 &&
        EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                         message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

bool is_rfc3339_utc(const std::string& text) {
    static const std::regex re("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$");
    return std::regex_match(text, re);
}

ReachableBinaries::ReachableBinaries() {
    fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec);
    fs::copy_file(ATTACHE_CLI_PATH, cli());
    fs::copy_file(ATTACHE_AGENT_PATH, agent());
    // The module helper the agent starts by default is the one beside it.
    fs::copy_file(fs::path(ATTACHE_AGENT_PATH).parent_path() / "attache-module-helper",
                  dir_ / "attache-module-helper");
}

}  // namespace attache::testing
