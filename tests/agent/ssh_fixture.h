#pragma once

// For the tests of the agent's SSH socket: where the socket is, a card key as an OpenSSH public
// key file, and a real OpenSSH sshd on a loopback port with its own Ed25519 host key, trusting
// the authorized_keys it is given. The sshd needs root (it runs sessions as root); available()
// says whether the test can have one.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/agent/agent_fixture.h"
#include "tests/support/command.h"

namespace attache::testing {

// The agent's ssh.sock.
std::string ssh_socket(const AgentFixture& agent);
// The card key's OpenSSH public key file (from `attache pubkey --format ssh`), written to the
// agent's directory as LABEL.pub; returns its path.
std::string ssh_public_key_file(AgentFixture& agent, const std::string& label);

class LoopbackSshd {
  public:
    static bool available();  // root, and /usr/sbin/sshd exists

    LoopbackSshd() = default;
    ~LoopbackSshd();  // SIGTERM and wait
    LoopbackSshd(const LoopbackSshd&) = delete;
    LoopbackSshd& operator=(const LoopbackSshd&) = delete;

    // Writes the host key and config into `dir` and starts sshd; false (with a test failure
    // added) when it does not accept connections.
    // With `host_certificate`, sshd also presents an OpenSSH host certificate of its key (signed
    // by a CA made here), which ssh then uses as the host key.
    bool start(const std::filesystem::path& dir, const std::string& authorized_keys,
               bool host_certificate = false);

    int port() const { return port_; }
    // The host key's public half (an OpenSSH .pub file).
    std::filesystem::path host_key_pub() const { return dir_ / "host_key.pub"; }

    // Runs `ssh` (bounded by a 60 s timeout) to root@127.0.0.1 on this port with the agent at
    // `agent_socket`, in batch mode and trusting any host key, with extra options (e.g. "-A")
    // and the remote command.
    CommandResult ssh(const std::string& agent_socket, const std::vector<std::string>& options,
                      const std::string& remote_command) const;
    // The ssh command line, to run on the far side of another ssh (quoted for a shell).
    std::string ssh_command_line(const std::vector<std::string>& options,
                                 const std::string& remote_command) const;

  private:
    std::vector<std::string> ssh_argv(const std::vector<std::string>& options) const;

    std::filesystem::path dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace attache::testing
