#include "tests/forwarding/background.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace attache::testing {

bool wait_for_port(int port) {
    for (int i = 0; i < 500; ++i) {
        UniqueFd s(socket(AF_INET, SOCK_STREAM, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

Background::Background(const std::vector<std::string>& argv, const std::string& log,
                       const std::map<std::string, std::string>& env) {
    // Standard input stays open (and empty) for the program's life: s_server stops at
    // its end.
    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return;
    input_.reset(in[1]);
    pid_ = fork();
    if (pid_ == 0) {
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in[0], 0);
        dup2(fd, 1);
        dup2(fd, 2);
        for (const auto& [k, v] : env)
            setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in[0]);
}

Background::~Background() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }
}

}  // namespace attache::testing
