// The rule that makes the encryption key's CKA_SIGN harmless, end to end: a card enrolled and
// certified with the admin commands, served by a real attache-agent, and used with the user
// commands. The agent offers each key only what its certificate's key usage allows: the
// authentication key signs; the encryption key derives (EC) and does not sign, although the card
// would let it.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/enrol/enrol_fixture.h"
#include "tests/support/test_policy.h"

namespace attache::enrol_test {
namespace {

// attache-agent on the fixture's SoftHSM2, stopped on destruction.
class Agent {
  public:
    explicit Agent(const testing::TempDir& dir) : dir_(dir) {}
    ~Agent() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
    }
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    std::string socket() const { return (dir_ / "run/agent.sock").string(); }
    std::string log() const { return testing::read_file(dir_ / "agent.log"); }

    // Starts it; true once `attache status` reaches it.
    bool start() {
        const std::string config = (dir_ / "agent.toml").string();
        testing::write_file(config, "modules = [\"" + testing::SoftHsm::module_path() +
                                        "\"]\npoll_interval_ms = 100\n");
        const std::string log_path = (dir_ / "agent.log").string();
        const std::string ssh_socket = (dir_ / "run/ssh.sock").string();
        const std::string admin = testing::write_test_admin_config(dir_.path()).string();
        pid_ = fork();
        if (pid_ == 0) {
            int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            setenv("HOME", dir_.path().c_str(), 1);
            execl(ATTACHE_AGENT_PATH, "attache-agent", "--foreground", "--config", config.c_str(),
                  "--admin-config", admin.c_str(), "--socket", socket().c_str(), "--ssh-socket",
                  ssh_socket.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        for (int i = 0; i < 250 && pid_ > 0; ++i) {
            if (std::filesystem::exists(socket()) && user({"status"}, {}).exit_code == 0) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    // Runs a user command against this agent.
    testing::CommandResult user(const std::vector<std::string>& args,
                                std::map<std::string, std::string> env) const {
        std::vector<std::string> argv{ATTACHE_CLI_PATH};
        argv.insert(argv.end(), args.begin(), args.end());
        env["ATTACHE_SOCK"] = socket();
        return testing::run_command(argv, {}, env);
    }

  private:
    const testing::TempDir& dir_;
    pid_t pid_ = -1;
};

TEST_F(EnrolTest, AgentServesEachKeyOnlyForWhatItsCertificateAllows) {
    const std::string serial = add_token("card");
    auto enrolled = enrol(serial, "ec-p256");
    ASSERT_EQ(enrolled.exit_code, 0) << testing::describe(enrolled);
    const auto keys = json_of(enrolled)["keys"];
    make_ca();
    for (int i = 0; i < 2; ++i) {
        auto r = import_certificate(serial, issue(keys[i]["csr"], "cert" + std::to_string(i)));
        ASSERT_EQ(r.exit_code, 0) << testing::describe(r);
    }

    // The card itself lets the encryption key sign (CKA_SIGN, for its own request).
    bool card_signs = false;
    for (const CardObject& o : objects("card"))
        card_signs |=
            o.kind == "Private Key" && o.id == keys[1]["key_id"] && contains(o.usage, "sign");
    EXPECT_TRUE(card_signs);

    Agent agent(dir_);
    ASSERT_TRUE(agent.start()) << agent.log();
    auto unlock = agent.user(
        {"unlock", "--token", uri(serial), "--pin-source", std::string("env:") + kPinVar},
        {{kPinVar, testing::SoftHsm::kUserPin}});
    ASSERT_EQ(unlock.exit_code, 0) << testing::describe(unlock) << agent.log();

    auto listed = agent.user({"keys", "--json"}, {});
    ASSERT_EQ(listed.exit_code, 0) << testing::describe(listed);
    std::map<std::string, nlohmann::json> by_cka_id;
    const nlohmann::json listed_json = json_of(listed);
    for (const auto& k : listed_json["keys"])
        by_cka_id[k["cka_id"]] = k;
    ASSERT_TRUE(by_cka_id.count(keys[0]["key_id"])) << listed.out;
    ASSERT_TRUE(by_cka_id.count(keys[1]["key_id"])) << listed.out;
    const auto& auth = by_cka_id[keys[0]["key_id"]];
    const auto& enc = by_cka_id[keys[1]["key_id"]];
    EXPECT_EQ(auth["operations"], nlohmann::json::array({"sign"})) << auth.dump(2);
    EXPECT_EQ(enc["operations"], nlohmann::json::array({"derive"})) << enc.dump(2);

    testing::write_file(path("message"), "to be signed\n");
    auto signed_by_auth = agent.user(
        {"sign", "--key", auth["id"], "--in", path("message"), "--out", path("auth.sig")}, {});
    EXPECT_EQ(signed_by_auth.exit_code, 0) << testing::describe(signed_by_auth);
    auto signed_by_enc = agent.user(
        {"sign", "--key", enc["id"], "--in", path("message"), "--out", path("enc.sig")}, {});
    EXPECT_EQ(signed_by_enc.exit_code, 9) << testing::describe(signed_by_enc);  // kRefusedByPolicy
}

}  // namespace
}  // namespace attache::enrol_test
