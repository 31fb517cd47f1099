#include "cli/secret_source.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace attache::cli {
namespace {

// Reads one line (without its end) from fd into a Secret, a byte at a time so nothing of the
// secret lands in a stdio buffer.
Result<Secret> read_line(int fd, std::string_view what) {
    Secret secret;
    if (!secret.valid())
        return Error("cannot allocate locked memory for the PIN");
    for (;;) {
        unsigned char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error("cannot read the PIN from " + std::string(what) + ": " +
                         std::strerror(errno));
        if (n == 0 || c == '\n')
            break;
        if (!secret.push_back(c))
            return Error("the PIN from " + std::string(what) + " is too long");
    }
    if (!secret.empty() && secret.data()[secret.size() - 1] == '\r')
        secret.pop_back();
    return secret;
}

// The terminal's settings while echo is off, restored by the signal handler when the user
// interrupts the prompt (Ctrl-C must not leave the terminal without echo).
int g_tty = -1;
termios g_saved{};

void restore_terminal_and_exit(int sig) {
    if (g_tty >= 0)
        tcsetattr(g_tty, TCSAFLUSH, &g_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

Result<Secret> read_from_terminal(std::string_view prompt) {
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0) {
        return Error(
            "no terminal to ask for the PIN; use --pin-source fd:N, file:PATH or env:NAME");
    }
    (void)!write(tty, prompt.data(), prompt.size());
    termios saved{};
    bool restore = tcgetattr(tty, &saved) == 0;
    if (restore) {
        g_tty = tty;
        g_saved = saved;
        signal(SIGINT, restore_terminal_and_exit);
        signal(SIGTERM, restore_terminal_and_exit);
        signal(SIGHUP, restore_terminal_and_exit);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL;
        tcsetattr(tty, TCSAFLUSH, &quiet);
    }
    auto secret = read_line(tty, "the terminal");
    if (restore) {
        tcsetattr(tty, TCSAFLUSH, &saved);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        g_tty = -1;
    }
    close(tty);
    return secret;
}

bool parse_fd(std::string_view digits, int& fd) {
    if (digits.empty() || digits.size() > 9)
        return false;
    fd = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return false;
        fd = fd * 10 + (c - '0');
    }
    return true;
}

}  // namespace

bool valid_secret_source(std::string_view source) {
    int fd;
    if (source == "prompt")
        return true;
    if (source.starts_with("fd:"))
        return parse_fd(source.substr(3), fd);
    if (source.starts_with("file:"))
        return source.size() > 5;
    if (source.starts_with("env:"))
        return source.size() > 4;
    return false;
}

Result<Secret> read_secret(std::string_view source, std::string_view prompt) {
    if (source == "prompt")
        return read_from_terminal(prompt);
    if (source.starts_with("fd:")) {
        int fd;
        if (!parse_fd(source.substr(3), fd))
            return Error("bad PIN source '" + std::string(source) + "'");
        return read_line(fd, "file descriptor " + std::to_string(fd));
    }
    if (source.starts_with("file:")) {
        std::string path(source.substr(5));
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return Error("cannot open PIN file " + path + ": " + std::strerror(errno));
        auto secret = read_line(fd, path);
        close(fd);
        return secret;
    }
    if (source.starts_with("env:")) {
        std::string name(source.substr(4));
        char* value = std::getenv(name.c_str());
        if (value == nullptr)
            return Error("environment variable " + name + " is not set");
        Secret secret;
        if (!Secret::from(value, secret))
            return Error("the PIN in " + name + " is too long");
        // Wipe and drop it so child processes do not inherit it.
        std::memset(value, 0, std::strlen(value));
        unsetenv(name.c_str());
        return secret;
    }
    return Error("bad PIN source '" + std::string(source) + "' (expected " + kSecretSourceHelp +
                 ")");
}

}  // namespace attache::cli
