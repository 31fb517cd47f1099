#include "tests/agent/ssh_fixture.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/support/loopback.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

bool accepts(int port) {
    UniqueFd s(socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

std::string ssh_socket(const AgentFixture& agent) {
    return (agent.dir() / "run/ssh.sock").string();
}

std::string ssh_public_key_file(AgentFixture& agent, const std::string& label) {
    auto r = agent.cli({"pubkey", "--key", agent.key(label).id, "--format", "ssh"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    const auto path = agent.dir() / (label + ".pub");
    write_file(path, r.out);
    return path.string();
}

bool LoopbackSshd::available() {
    return getuid() == 0 && access("/usr/sbin/sshd", X_OK) == 0;
}

LoopbackSshd::~LoopbackSshd() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }
}

bool LoopbackSshd::start(const std::filesystem::path& dir, const std::string& authorized_keys,
                         bool host_certificate) {
    dir_ = dir;
    std::filesystem::create_directories("/run/sshd");
    auto keygen = run_command(
        {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "host_key").string()});
    if (keygen.exit_code != 0) {
        ADD_FAILURE() << describe(keygen);
        return false;
    }
    std::string certificate_line;
    if (host_certificate) {
        auto ca = run_command(
            {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "host_ca").string()});
        auto sign =
            run_command({"ssh-keygen", "-q", "-s", (dir / "host_ca").string(), "-I", "loopback",
                         "-h", "-n", "127.0.0.1", (dir / "host_key.pub").string()});
        if (ca.exit_code != 0 || sign.exit_code != 0) {
            ADD_FAILURE() << describe(ca) << describe(sign);
            return false;
        }
        certificate_line = "HostCertificate " + (dir / "host_key-cert.pub").string() + "\n";
    }
    write_file(dir / "authorized_keys", authorized_keys);
    port_ = free_port();
    write_file(dir / "sshd_config",
               "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " +
                   (dir / "host_key").string() + "\nAuthorizedKeysFile " +
                   (dir / "authorized_keys").string() + "\nPidFile " + (dir / "sshd.pid").string() +
                   "\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                   "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                   "PermitRootLogin prohibit-password\nAllowAgentForwarding yes\n" +
                   certificate_line);
    pid_ = fork();
    if (pid_ == 0) {
        execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", (dir / "sshd_config").c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
        if (accepts(port_))
            return true;
        usleep(20'000);
    }
    ADD_FAILURE() << "sshd did not start";
    return false;
}

std::vector<std::string> LoopbackSshd::ssh_argv(const std::vector<std::string>& options) const {
    std::vector<std::string> argv{"ssh",
                                  "-F",
                                  "/dev/null",
                                  "-o",
                                  "IdentitiesOnly=no",
                                  "-o",
                                  "BatchMode=yes",
                                  "-o",
                                  "StrictHostKeyChecking=no",
                                  "-o",
                                  "UserKnownHostsFile=/dev/null",
                                  "-o",
                                  "ConnectTimeout=20",
                                  "-p",
                                  std::to_string(port_)};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("root@127.0.0.1");
    return argv;
}

CommandResult LoopbackSshd::ssh(const std::string& agent_socket,
                                const std::vector<std::string>& options,
                                const std::string& remote_command) const {
    std::vector<std::string> argv{"timeout", "60"};
    for (const std::string& a : ssh_argv(options))
        argv.push_back(a);
    argv.insert(argv.begin() + 3, {"-o", "IdentityAgent=" + agent_socket});
    argv.push_back(remote_command);
    // SSH_AUTH_SOCK too: ssh -A forwards that agent, not IdentityAgent's.
    return run_command(argv, {}, {{"SSH_AUTH_SOCK", agent_socket}});
}

std::string LoopbackSshd::ssh_command_line(const std::vector<std::string>& options,
                                           const std::string& remote_command) const {
    std::string line;
    for (const std::string& a : ssh_argv(options))
        line += shell_quote(a) + " ";
    return line + shell_quote(remote_command);
}

}  // namespace attache::testing
