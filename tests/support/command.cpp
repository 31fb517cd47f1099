#include "tests/support/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace attache::testing {
namespace {

void set_cloexec_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
}

CommandResult run(const std::vector<std::string>& argv, const std::string& input,
                  const std::map<std::string, std::string>& env, int timeout_ms);

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          const std::map<std::string, std::string>& env) {
    return run(argv, input, env, -1);
}

CommandResult run_command_within(int timeout_ms, const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env) {
    return run(argv, {}, env, timeout_ms);
}

namespace {

CommandResult run(const std::vector<std::string>& argv, const std::string& input,
                  const std::map<std::string, std::string>& env, int timeout_ms) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    int in[2], out[2], err[2];
    set_cloexec_pipe(in);
    set_cloexec_pipe(out);
    set_cloexec_pipe(err);

    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);

    pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        if (timeout_ms >= 0)
            setpgid(0, 0);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        for (const auto& [k, v] : env) {
            setenv(k.c_str(), v.c_str(), 1);
        }
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);

    CommandResult result;
    size_t written = 0;
    int in_fd = in[1];
    if (input.empty()) {
        close(in_fd);
        in_fd = -1;
    }
    signal(SIGPIPE, SIG_IGN);
    bool out_open = true, err_open = true;
    while (out_open || err_open || in_fd >= 0) {
        pollfd pfds[3];
        int n = 0;
        int out_i = -1, err_i = -1, in_i = -1;
        if (out_open) {
            out_i = n;
            pfds[n++] = {out[0], POLLIN, 0};
        }
        if (err_open) {
            err_i = n;
            pfds[n++] = {err[0], POLLIN, 0};
        }
        if (in_fd >= 0) {
            in_i = n;
            pfds[n++] = {in_fd, POLLOUT, 0};
        }
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            wait_ms = static_cast<int>(
                std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                         deadline - std::chrono::steady_clock::now())
                                         .count()));
        }
        const int ready = poll(pfds, n, wait_ms);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (ready == 0) {
            result.timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        char buf[65536];
        auto drain = [&](int idx, int fd, std::string& sink, bool& open) {
            if (idx < 0 || pfds[idx].revents == 0)
                return;
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                sink.append(buf, static_cast<size_t>(r));
            } else if (r == 0 || errno != EINTR) {
                open = false;
            }
        };
        drain(out_i, out[0], result.out, out_open);
        drain(err_i, err[0], result.err, err_open);
        if (in_i >= 0 && pfds[in_i].revents != 0) {
            ssize_t w = write(in_fd, input.data() + written, input.size() - written);
            if (w > 0)
                written += static_cast<size_t>(w);
            if (w < 0 || written == input.size()) {
                close(in_fd);
                in_fd = -1;
            }
        }
    }
    close(out[0]);
    close(err[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace

std::string describe(const CommandResult& r) {
    return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (killed: timed out)" : "") +
           "\n--- stdout ---\n" + r.out + "\n--- stderr ---\n" + r.err;
}

}  // namespace attache::testing
