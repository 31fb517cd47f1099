// Under systemd the agent's log goes to the journal with structured fields. The test stands in
// for journald: in a private mount namespace, its own datagram socket is bound over
// /run/systemd/journal/, and the agent's standard error is named by $JOURNAL_STREAM.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

// One journal entry: its KEY=VALUE lines (the agent's values carry no newlines, so the
// binary form of the native protocol never appears).
using Entry = std::map<std::string, std::string>;

Entry parse_entry(const std::string& datagram) {
    Entry e;
    size_t start = 0;
    while (start < datagram.size()) {
        size_t end = datagram.find('\n', start);
        if (end == std::string::npos)
            end = datagram.size();
        const std::string line = datagram.substr(start, end - start);
        const size_t eq = line.find('=');
        if (eq != std::string::npos)
            e[line.substr(0, eq)] = line.substr(eq + 1);
        start = end + 1;
    }
    return e;
}

class JournalTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root for a private mount namespace";
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "k", {.sign = true}}});
        fs::create_directory(journal_dir);
        journal.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const std::string socket_path = (journal_dir / "socket").string();
        std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
        ASSERT_EQ(bind(journal.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        write_file(agent.dir() / "agent.toml",
                   "modules = [\"" + SoftHsm::module_path() + "\"]\npinentry = \"\"\n");
    }

    // Starts the agent where our socket appears as /run/systemd/journal/socket, for the agent
    // alone (a private mount namespace). `foreground`: standard error is a journal stream
    // ($JOURNAL_STREAM), as under systemd; else the agent goes into the background itself and
    // the returned process exits once it serves.
    pid_t start(bool foreground) {
        const std::string admin = write_test_admin_config(agent.dir().path()).string();
        const pid_t pid = fork();
        if (pid != 0)
            return pid;
        const int err = open(stream.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(err, 2);
        dup2(err, 1);  // the commands a background start prints
        if (foreground) {
            struct stat st {};
            fstat(2, &st);
            setenv("JOURNAL_STREAM",
                   (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
        }
        setenv("XDG_STATE_HOME", (agent.dir() / "state").c_str(), 1);
        if (unshare(CLONE_NEWNS) != 0 ||
            mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            _exit(125);
        const char* base = fs::exists("/run/systemd") ? "/run/systemd" : "/run";
        if (mount("tmpfs", base, "tmpfs", 0, "mode=0755") != 0)
            _exit(125);
        fs::create_directories("/run/systemd/journal");
        if (mount(journal_dir.c_str(), "/run/systemd/journal", nullptr, MS_BIND, nullptr) != 0)
            _exit(125);
        execl(ATTACHE_AGENT_PATH, "attache-agent", foreground ? "--foreground" : "--sh", "--config",
              (agent.dir() / "agent.toml").c_str(), "--admin-config", admin.c_str(), "--socket",
              agent.socket().c_str(), "--ssh-socket", (agent.dir() / "run/ssh.sock").c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }

    std::vector<Entry> entries() {
        std::vector<Entry> out;
        char buf[65536];
        for (;;) {
            const ssize_t n = recv(journal.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0)
                break;
            out.push_back(parse_entry(std::string(buf, static_cast<size_t>(n))));
        }
        return out;
    }

    AgentFixture agent;
    const fs::path journal_dir = agent.dir() / "journal";
    const fs::path stream = agent.dir() / "stderr";
    UniqueFd journal;
};

TEST_F(JournalTest, AuditRecordsArriveWithStructuredFields) {
    const pid_t pid = start(/*foreground=*/true);
    ASSERT_GE(pid, 0);
    ASSERT_TRUE(eventually([&] { return bool(protocol::Client::connect(agent.socket(), "t")); }))
        << read_file(stream);
    agent.unlock();
    const std::string key = agent.key("k").id;
    auto sig = agent.cli({"sign", "--key", key}, "data");
    EXPECT_EQ(sig.exit_code, 0) << describe(sig);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);

    const std::vector<Entry> entries = this->entries();
    ASSERT_FALSE(entries.empty()) << "nothing reached the journal; stderr:\n" << read_file(stream);
    bool serving = false, sign = false, unlock = false;
    for (const auto& e : entries) {
        EXPECT_EQ(e.at("SYSLOG_IDENTIFIER"), "attache-agent");
        if (e.at("MESSAGE").find("serving") != std::string::npos) {
            serving = true;
            EXPECT_EQ(e.at("PRIORITY"), "6");
        }
        if (e.count("ATTACHE_OP") && e.at("ATTACHE_OP") == "sign") {
            sign = true;
            EXPECT_EQ(e.at("MESSAGE_ID"), "4f0c1f3e5b8a4d2a9e61c7b0d3a5f812");
            EXPECT_EQ(e.at("ATTACHE_KEY"), key);
            EXPECT_EQ(e.at("ATTACHE_RESULT"), "ok");
            EXPECT_EQ(e.at("ATTACHE_CLIENT_UID"), std::to_string(getuid()));
            EXPECT_NE(e.at("ATTACHE_CLIENT_PID"), "");
            EXPECT_NE(e.at("ATTACHE_CLIENT_EXE").find("attache"), std::string::npos);
            EXPECT_NE(e.at("MESSAGE").find("audit: op=sign"), std::string::npos);
        }
        unlock |= e.count("ATTACHE_OP") && e.at("ATTACHE_OP") == "unlock";
    }
    EXPECT_TRUE(serving);
    EXPECT_TRUE(sign);
    EXPECT_TRUE(unlock);
    EXPECT_EQ(read_file(stream).find("audit:"), std::string::npos)
        << "with the journal, standard error carries no duplicate";
}

TEST_F(JournalTest, TheAgentInTheBackgroundLogsToTheJournal) {
    const pid_t parent = start(/*foreground=*/false);
    ASSERT_GE(parent, 0);
    int status = 0;
    waitpid(parent, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(stream);
    auto reply = agent.client().call(protocol::StatusRequest{});
    ASSERT_TRUE(reply);
    const auto pid = static_cast<pid_t>(std::get<protocol::StatusReply>(*reply).pid);
    agent.unlock();
    auto sig = agent.cli({"sign", "--key", agent.key("k").id}, "data");
    EXPECT_EQ(sig.exit_code, 0) << describe(sig);
    kill(pid, SIGTERM);
    EXPECT_TRUE(eventually([&] { return !fs::exists(agent.socket()); }));

    bool background = false, sign = false;
    for (const auto& e : entries()) {
        background |= e.at("MESSAGE") == "running in the background, logging to the journal";
        sign |= e.count("ATTACHE_OP") && e.at("ATTACHE_OP") == "sign";
    }
    EXPECT_TRUE(background);
    EXPECT_TRUE(sign);
    EXPECT_FALSE(fs::exists(agent.dir() / "state/attache/agent.log"))
        << "no file beside the journal";
}

}  // namespace
}  // namespace attache::testing
