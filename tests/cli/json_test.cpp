// One JSON contract for every command: {"ok": true, ...} on success; {"ok": false, "error": ...,
// "exit_code": N} on failure, also when the agent is not running and for command-line errors;
// times in RFC 3339 UTC. Messages speak of cards and PINs; CKR_ names only with --verbose.

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <filesystem>

#include "pkcs11/public_key.h"
#include "tests/cli/cli_fixture.h"
#include "tests/support/softhsm.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

std::string unbase64(const std::string& text) {
    std::string out(text.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0)
        return {};
    size_t size = static_cast<size_t>(n);
    // EVP_DecodeBlock counts the padding as zero bytes.
    for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i)
        --size;
    out.resize(size);
    return out;
}

// RSA-OAEP (SHA-1) encryption to the key, as `openssl pkeyutl -encrypt` does by default.
std::string encrypt_to(const protocol::KeyEntry& key, const std::string& plaintext) {
    auto pkey = p11::pkey_from_spki(key.spki);
    EXPECT_TRUE(pkey);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pkey->get(), nullptr);
    size_t len = 0;
    std::string out;
    if (EVP_PKEY_encrypt_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
        EVP_PKEY_encrypt(ctx, nullptr, &len,
                         reinterpret_cast<const unsigned char*>(plaintext.data()),
                         plaintext.size()) == 1) {
        out.resize(len);
        if (EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                             reinterpret_cast<const unsigned char*>(plaintext.data()),
                             plaintext.size()) == 1)
            out.resize(len);
        else
            out.clear();
    }
    EVP_PKEY_CTX_free(ctx);
    return out;
}

void expect_failure(const CommandResult& r, int code) {
    EXPECT_EQ(r.exit_code, code) << describe(r);
    auto j = json_of(r);
    ASSERT_TRUE(j.is_object()) << describe(r);
    EXPECT_EQ(j["ok"], false) << j.dump();
    EXPECT_EQ(j["exit_code"], code) << j.dump();
    ASSERT_TRUE(j["error"].is_string()) << j.dump();
    EXPECT_FALSE(j["error"].get<std::string>().empty());
    EXPECT_EQ(j["error"].get<std::string>().find("CKR_"), std::string::npos) << j.dump();
}

nlohmann::json expect_success(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    auto j = json_of(r);
    EXPECT_TRUE(j.is_object()) << describe(r);
    if (j.is_object()) {
        EXPECT_EQ(j["ok"], true) << j.dump();
    }
    return j;
}

using JsonTest = CliTest;

TEST_F(JsonTest, StatusHasOkAndRfc3339Times) {
    auto j = expect_success(attache({"status", "--json"}));
    ASSERT_EQ(j["tokens"].size(), 1u) << j.dump();
    EXPECT_TRUE(is_rfc3339_utc(j["tokens"][0]["since"].get<std::string>())) << j.dump();
    auto text = attache({"status"});
    EXPECT_TRUE(text.out.find(j["tokens"][0]["since"].get<std::string>()) != std::string::npos)
        << text.out;
}

TEST_F(JsonTest, KeysIsAnObjectWithTheKeys) {
    auto j = expect_success(attache({"keys", "--json"}));
    ASSERT_TRUE(j["keys"].is_array()) << j.dump();
    EXPECT_EQ(j["keys"].size(), 2u);
    EXPECT_TRUE(j["keys"][0]["certificate_not_after"].is_null()) << j.dump();
}

TEST_F(JsonTest, SignCarriesTheSignatureWithoutOut) {
    auto j = expect_success(attache({"sign", "--key", "ec-sign", "--json"}, "message"));
    EXPECT_EQ(j["mechanism"], "ecdsa-sha256");
    EXPECT_TRUE(signature_verifies(agent_.key("ec-sign"), "message", unbase64(j["signature"])))
        << j.dump();
    const std::string out = (tmp_ / "sig").string();
    auto f = expect_success(attache({"sign", "--key", "ec-sign", "--json", "--out", out}, "m"));
    EXPECT_EQ(f["out"], out);
    EXPECT_FALSE(f.contains("signature"));
    EXPECT_TRUE(signature_verifies(agent_.key("ec-sign"), "m", read_file(out)));
}

TEST_F(JsonTest, DecryptCarriesThePlaintext) {
    const std::string ciphertext = encrypt_to(agent_.key("rsa-decrypt"), "the meeting moved");
    ASSERT_FALSE(ciphertext.empty());
    auto j = expect_success(attache({"decrypt", "--key", "rsa-decrypt", "--json"}, ciphertext));
    EXPECT_EQ(unbase64(j["plaintext"]), "the meeting moved") << j.dump();
    // Data that is not a ciphertext for the key: SoftHSM2 fails it with CKR_GENERAL_ERROR, which
    // the agent reports as a device error (exit 1); said in words, the CKR_ name with --verbose.
    auto bad =
        attache({"decrypt", "--key", "rsa-decrypt", "--json", "--verbose"}, std::string(256, 'x'));
    expect_failure(bad, 1);
    EXPECT_NE(json_of(bad)["detail"].get<std::string>().find("CKR_"), std::string::npos) << bad.out;
}

TEST_F(JsonTest, PubkeyLockUnlockSshEnv) {
    auto p = expect_success(attache({"pubkey", "--key", "ec-sign", "--json"}));
    EXPECT_TRUE(p["public_key"].get<std::string>().starts_with("-----BEGIN PUBLIC KEY-----"));
    auto l = expect_success(attache({"lock", "--json"}));
    EXPECT_EQ(l["locked"], 1);
    expect_failure(attache({"sign", "--key", "ec-sign", "--json"}, "m"), 4);
    auto u = agent_.cli({"unlock", "--pin-source", "env:PIN", "--json"}, {},
                        {{"PIN", SoftHsm::kUserPin}});
    auto uj = expect_success(u);
    EXPECT_EQ(uj["already_unlocked"], false);
    EXPECT_EQ(uj["label"], "alice");
    auto s = expect_success(attache({"ssh-env", "--json"}));
    EXPECT_EQ(s["ssh_auth_sock"], (agent_.dir() / "run/ssh.sock").string());
}

TEST_F(JsonTest, WrongPinSpeaksOfThePinAndShowsTheCkrOnlyWhenVerbose) {
    ASSERT_EQ(attache({"lock"}).exit_code, 0);
    auto r = agent_.cli({"unlock", "--pin-source", "env:PIN", "--json"}, {}, {{"PIN", "999999"}});
    expect_failure(r, 5);
    EXPECT_NE(r.err.find("PIN was not accepted by card 'alice'"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("CKR_"), std::string::npos) << r.err;
    EXPECT_FALSE(json_of(r).contains("detail"));
    auto v = agent_.cli({"unlock", "--pin-source", "env:PIN", "--json", "--verbose"}, {},
                        {{"PIN", "999999"}});
    EXPECT_EQ(v.exit_code, 5) << describe(v);
    EXPECT_NE(v.err.find("CKR_PIN_INCORRECT"), std::string::npos) << v.err;
    EXPECT_NE(json_of(v)["detail"].get<std::string>().find("CKR_PIN_INCORRECT"), std::string::npos);
}

TEST_F(JsonTest, UnknownKeyIsAFailureObject) {
    expect_failure(attache({"sign", "--key", "nosuch", "--json"}, "m"), 7);
    expect_failure(attache({"pubkey", "--key", "nosuch", "--json"}), 7);
}

// Every user command, with no agent on the socket.
TEST(JsonNoAgentTest, EveryUserCommandSaysTheAgentIsNotRunning) {
    TempDir dir;
    const std::map<std::string, std::string> env{{"ATTACHE_SOCK", (dir / "none.sock").string()}};
    const std::vector<std::vector<std::string>> commands = {
        {"status"},
        {"keys"},
        {"unlock", "--pin-source", "env:NOPE"},
        {"lock"},
        {"sign", "--key", "k"},
        {"decrypt", "--key", "k"},
        {"pubkey", "--key", "k"},
    };
    for (auto args : commands) {
        args.insert(args.begin(), ATTACHE_CLI_PATH);
        args.push_back("--json");
        auto r = run_command(args, "data", env);
        SCOPED_TRACE(args[1]);
        expect_failure(r, 3);
        EXPECT_NE(r.err.find("not running"), std::string::npos) << r.err;
    }
}

TEST(JsonUsageTest, CommandLineErrorsAreFailureObjects) {
    auto r = run_command({ATTACHE_CLI_PATH, "sign", "--json"});  // no --key
    expect_failure(r, 2);
    auto admin = run_command({ATTACHE_CLI_PATH, "inventory", "show", "--json"});  // no record
    expect_failure(admin, 2);
}

// The admin commands, on SoftHSM2 directly.
class AdminJsonTest : public ::testing::Test {
  protected:
    void SetUp() override { hsm_.add_token("blank"); }

    CommandResult attache(std::vector<std::string> args) {
        args.insert(args.begin(), ATTACHE_CLI_PATH);
        return run_command(args, {}, {{"PIN", SoftHsm::kUserPin}, {"NEW_PIN", "24681357"}});
    }
    std::string inventory() const { return (dir_ / "inventory.db").string(); }

    SoftHsm hsm_;
    TempDir dir_;
};

TEST_F(AdminJsonTest, SuccessAndFailureShapes) {
    const std::string& module = SoftHsm::module_path();
    expect_success(attache({"token", "list", "--module", module, "--json"}));
    expect_failure(
        attache({"pin", "status", "--module", module, "--token", "pkcs11:serial=nosuch", "--json"}),
        7);
    expect_failure(attache({"inventory", "list", "--inventory", inventory(), "--json"}), 15);
}

TEST_F(AdminJsonTest, WrongPinSpeaksOfThePin) {
    const std::string& module = SoftHsm::module_path();
    auto r = run_command(
        {ATTACHE_CLI_PATH, "pin", "change", "--module", module, "--token", "pkcs11:token=blank",
         "--pin-source", "env:PIN", "--new-pin-source", "env:NEW_PIN", "--json"},
        {}, {{"PIN", "999999"}, {"NEW_PIN", "24681357"}});
    expect_failure(r, 5);
    EXPECT_NE(r.err.find("user PIN was not accepted"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("CKR_"), std::string::npos) << r.err;
    auto v = run_command(
        {ATTACHE_CLI_PATH, "pin", "change", "--module", module, "--token", "pkcs11:token=blank",
         "--pin-source", "env:PIN", "--new-pin-source", "env:NEW_PIN", "--verbose"},
        {}, {{"PIN", "999999"}, {"NEW_PIN", "24681357"}});
    EXPECT_NE(v.err.find("CKR_PIN_INCORRECT"), std::string::npos) << v.err;
}

TEST_F(AdminJsonTest, InventoryTimesAndExportFile) {
    const std::string& module = SoftHsm::module_path();
    fs::create_directory(dir_ / "requests");
    auto e = attache({"enrol", "--module", module, "--token", "pkcs11:token=blank", "--holder",
                      "Ada Lovelace", "--subject", "CN=Ada Lovelace", "--out",
                      (dir_ / "requests").string(), "--inventory", inventory(), "--pin-source",
                      "env:PIN", "--json"});
    expect_success(e);
    auto list =
        expect_success(attache({"inventory", "list", "--inventory", inventory(), "--json"}));
    ASSERT_EQ(list["records"].size(), 1u) << list.dump();
    EXPECT_TRUE(is_rfc3339_utc(list["records"][0]["created_at"])) << list.dump();
    EXPECT_TRUE(is_rfc3339_utc(list["records"][0]["updated_at"])) << list.dump();
    auto show =
        expect_success(attache({"inventory", "show", "1", "--inventory", inventory(), "--json"}));
    EXPECT_TRUE(is_rfc3339_utc(show["events"][0]["at"])) << show.dump();
    auto exported =
        expect_success(attache({"inventory", "export", "--inventory", inventory(), "--json"}));
    EXPECT_TRUE(is_rfc3339_utc(exported["exported_at"])) << exported.dump();

    const std::string csv = (dir_ / "export.csv").string();
    auto to_file = expect_success(
        attache({"inventory", "export", "--inventory", inventory(), "--out", csv, "--json"}));
    EXPECT_EQ(to_file["out"], csv);
    EXPECT_EQ(to_file["records"], 1);
    const std::string file = read_file(csv);
    EXPECT_NE(file.find("\"ok\": true"), std::string::npos) << file;
    EXPECT_NE(file.find("Ada Lovelace"), std::string::npos) << file;
    auto text = attache({"inventory", "export", "--inventory", inventory(), "--out", csv});
    EXPECT_EQ(text.exit_code, 0) << describe(text);
    EXPECT_TRUE(read_file(csv).starts_with("record,state,holder")) << read_file(csv);

    // A symlink as the export file is refused and its target left alone.
    write_file(dir_ / "target", "keep");
    fs::create_symlink(dir_ / "target", dir_ / "link.csv");
    expect_failure(attache({"inventory", "export", "--inventory", inventory(), "--out",
                            (dir_ / "link.csv").string(), "--json"}),
                   2);
    EXPECT_EQ(read_file(dir_ / "target"), "keep");
}

}  // namespace
}  // namespace attache::testing
