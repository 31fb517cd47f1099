#include "agent/workstation/daemon.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "agent/core/log.h"
#include "agent/workstation/journal.h"
#include "agent/workstation/log_file.h"
#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::agent {
namespace {

// The pipe carries lines "W<warning or error>\n" while the agent starts, then "R" followed by
// the shell commands until the pipe closes.
constexpr char kWarning = 'W';
constexpr char kReady = 'R';
// A forwarded line is cut at this length (one write() of at most PIPE_BUF bytes is atomic, so
// lines of several threads never mix).
constexpr size_t kMaxForwardedLine = 1024;

// Writes each warning and error to the pipe as well, until the agent is ready.
class StartupSink : public LogSink {
  public:
    void start(int fd, LogSink* next) {
        next_ = next;
        fd_ = fd;
    }
    void set_next(LogSink* next) { next_ = next; }
    LogSink* next() const { return next_; }
    void stop() { fd_ = -1; }

    void write(LogLevel level, std::string_view message) override {
        if (next_ != nullptr)
            next_->write(level, message);
        else
            log_to_stderr(level, message);
        const int fd = fd_.load();
        if (fd < 0 || level < LogLevel::warning)
            return;
        std::string line(1, kWarning);
        line += message.substr(0, kMaxForwardedLine);
        for (char& c : line) {
            if (c == '\n')
                c = ' ';
        }
        line += '\n';
        (void)!::write(fd, line.data(), line.size());
    }
    void audit(const AuditFields& fields, std::string_view line) override {
        if (next_ != nullptr)
            next_->audit(fields, line);
        else
            log_to_stderr(LogLevel::info, line);
    }

  private:
    LogSink* next_ = nullptr;
    std::atomic<int> fd_{-1};
};

StartupSink& startup_sink() {
    static StartupSink& sink = *new StartupSink;  // never destroyed: threads may still log
    return sink;
}

// The first parent: relays what the agent reports, then exits.
[[noreturn]] void wait_for_agent(int fd, pid_t child) {
    std::string got;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got.append(buf, static_cast<size_t>(n));
    }
    waitpid(child, nullptr, 0);  // the intermediate child, gone as soon as it forked
    size_t pos = 0;
    while (pos < got.size() && got[pos] == kWarning) {
        size_t end = got.find('\n', pos);
        if (end == std::string::npos)
            end = got.size();
        std::fprintf(stderr, "attache-agent: %s\n", got.substr(pos + 1, end - pos - 1).c_str());
        pos = end + 1;
    }
    if (pos < got.size() && got[pos] == kReady) {
        std::fputs(got.c_str() + pos + 1, stdout);
        std::fflush(stdout);
        std::exit(0);
    }
    std::exit(1);
}

Status redirect(int from, int to) {
    if (dup2(from, to) < 0)
        return Error(std::string("dup2: ") + std::strerror(errno));
    return ok();
}

// Standard input from /dev/null; standard output and error to the log; the log sink.
Result<std::string> set_up_log(StartupSink& sink) {
    UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null.valid())
        return Error(std::string("cannot open /dev/null: ") + std::strerror(errno));
    ATTACHE_CHECK(redirect(null.get(), 0));
    if (journal_available()) {
        // What modules print on standard error lands in the journal too, when it takes streams.
        UniqueFd stream(sd_journal_stream_fd("attache-agent", LOG_INFO, 0));
        const int out = stream.valid() ? stream.get() : null.get();
        ATTACHE_CHECK(redirect(out, 1));
        ATTACHE_CHECK(redirect(out, 2));
        sink.set_next(&journal_sink());
        return std::string("the journal");
    }
    auto path = default_log_file();
    Result<UniqueFd> file = path ? open_log_file(*path) : Result<UniqueFd>(path.error());
    if (!file) {
        ATTACHE_CHECK(redirect(null.get(), 1));
        ATTACHE_CHECK(redirect(null.get(), 2));
        return std::move(file).error();
    }
    ATTACHE_CHECK(redirect(file->get(), 1));
    ATTACHE_CHECK(redirect(file->get(), 2));
    set_log_timestamps(true);
    return path->string();
}

}  // namespace

void StartupReport::ready(const std::string& shell_commands) {
    if (fd_ < 0)
        return;
    startup_sink().stop();
    set_log_sink(startup_sink().next());
    const std::string message = std::string(1, kReady) + shell_commands;
    size_t done = 0;
    while (done < message.size()) {
        const ssize_t n = write(fd_, message.data() + done, message.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += static_cast<size_t>(n);
    }
    close(fd_);
    fd_ = -1;
}

Result<StartupReport> go_to_background() {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0)
        return Error(std::string("pipe: ") + std::strerror(errno));
    std::fflush(nullptr);
    const pid_t child = fork();
    if (child < 0)
        return Error(std::string("fork: ") + std::strerror(errno));
    if (child > 0) {
        close(report[1]);
        wait_for_agent(report[0], child);
    }
    close(report[0]);
    if (setsid() < 0)
        _exit(1);
    const pid_t agent = fork();
    if (agent < 0)
        _exit(1);
    if (agent > 0)
        _exit(0);

    StartupSink& sink = startup_sink();
    sink.start(report[1], nullptr);
    set_log_sink(&sink);
    StartupReport out;
    out.fd_ = report[1];
    auto destination = set_up_log(sink);
    if (!destination)
        return std::move(destination).error();
    out.log_destination_ = std::move(*destination);
    return out;
}

}  // namespace attache::agent
