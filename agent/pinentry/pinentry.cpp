#include "agent/pinentry/pinentry.h"

#include <assuan.h>
#include <gpg-error.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "agent/core/agent_error.h"
#include "agent/pinentry/prompt_text.h"

extern char** environ;

namespace attache::agent {
namespace {

// ---- Allocation hooks: everything libassuan frees (its line buffers held the PIN) is wiped.

constexpr size_t kHeader = 16;  // keeps the returned block aligned like malloc's

void* wiping_malloc(size_t size) {
    auto* base = static_cast<unsigned char*>(std::malloc(size + kHeader));
    if (base == nullptr)
        return nullptr;
    std::memcpy(base, &size, sizeof size);
    return base + kHeader;
}

void wiping_free(void* p) {
    if (p == nullptr)
        return;
    unsigned char* base = static_cast<unsigned char*>(p) - kHeader;
    size_t size;
    std::memcpy(&size, base, sizeof size);
    OPENSSL_cleanse(p, size);
    std::free(base);
}

void* wiping_realloc(void* p, size_t size) {
    if (p == nullptr)
        return wiping_malloc(size);
    if (size == 0) {
        wiping_free(p);
        return nullptr;
    }
    void* fresh = wiping_malloc(size);
    if (fresh == nullptr)
        return nullptr;
    size_t old;
    std::memcpy(&old, static_cast<unsigned char*>(p) - kHeader, sizeof old);
    std::memcpy(fresh, p, std::min(old, size));
    wiping_free(p);
    return fresh;
}

assuan_malloc_hooks g_wiping_hooks{wiping_malloc, wiping_realloc, wiping_free};

// ---- The child: runs between fork and exec, so only async-signal-safe work.

struct ChildSetup {
    char** envp;
};

void setup_child(void* opaque, int /*reserved*/) {
    // The agent blocks its signals in every thread (they are read from a signalfd) and
    // ignores SIGPIPE; pinentry must get the defaults, or it would not die when signalled.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, nullptr);
    // libassuan calls execv(), which passes `environ`: point it at the prepared array.
    environ = static_cast<ChildSetup*>(opaque)->envp;
}

// ---- One Assuan connection.

class Connection {
  public:
    Connection() = default;
    ~Connection() {
        if (ctx_ != nullptr)
            assuan_release(ctx_);  // closes the pipes and reaps pinentry
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    gpg_error_t open() {
        return assuan_new_ext(&ctx_, GPG_ERR_SOURCE_DEFAULT, &g_wiping_hooks, nullptr, nullptr);
    }
    assuan_context_t get() const { return ctx_; }

    // A command whose answer is OK or ERR.
    gpg_error_t command(const std::string& line) {
        return assuan_transact(ctx_, line.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr,
                               nullptr);
    }

  private:
    assuan_context_t ctx_ = nullptr;
};

bool is_cancel(gpg_error_t rc) {
    const gpg_err_code_t code = gpg_err_code(rc);
    return code == GPG_ERR_CANCELED || code == GPG_ERR_FULLY_CANCELED ||
           code == GPG_ERR_ASS_CANCELED || code == GPG_ERR_TIMEOUT;
}

Error cancelled(const std::string& why) {
    return agent_error(ErrorCode::cancelled, why);
}

Error cannot_prompt(const std::string& program, const std::string& why) {
    return agent_error(ErrorCode::token_locked, "cannot ask for the PIN with " + program + " (" +
                                                    why + "); unlock with `attache unlock`");
}

// A use that needs confirming is refused when no dialog can be shown.
Error cannot_confirm(const std::string& program, const std::string& why) {
    return agent_error(ErrorCode::refused_by_policy,
                       "this use of the key needs your confirmation, but no dialog could be shown "
                       "with " +
                           program + " (" + why + "); it is refused");
}

gpg_error_t collect_pin(void* opaque, const void* data, size_t size) {
    auto* pin = static_cast<Secret*>(opaque);
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
        if (!pin->push_back(bytes[i]))
            return gpg_error(GPG_ERR_TOO_LARGE);
    }
    return 0;
}

// Ends the prompt when neither the user nor pinentry's own timeout did.
class Watchdog {
  public:
    Watchdog(std::chrono::seconds limit, PromptCancel& cancel)
        : thread_([this, limit, &cancel] {
              std::unique_lock lock(mutex_);
              if (!done_cv_.wait_for(lock, limit, [&] { return done_; })) {
                  fired_ = true;
                  cancel.cancel();
              }
          }) {}
    // The limit passed and the watchdog ended the prompt.
    bool fired() {
        std::lock_guard lock(mutex_);
        return fired_;
    }
    ~Watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        done_cv_.notify_all();
        thread_.join();
    }

  private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    bool fired_ = false;
    std::thread thread_;
};

// One pinentry dialog, started: the child runs, `cancel` can end it (it signals the child),
// and a watchdog ends it when neither the user nor pinentry's own timeout did. Destroyed in
// the right order: the watchdog stops, the canceller is cleared, then libassuan reaps the child.
class Dialog {
  public:
    explicit Dialog(PromptCancel& cancel) : cancel_(cancel) {}
    ~Dialog() {
        watchdog_.reset();
        cancel_.clear_canceller();
    }
    Dialog(const Dialog&) = delete;
    Dialog& operator=(const Dialog&) = delete;

    struct Failure {
        bool cancelled = false;  // `cancel` had ended the prompt before it opened
        std::string why;         // otherwise: why pinentry could not be started
    };
    // Starts options.program (found with find_program) in the session's environment.
    std::optional<Failure> start(const PinentryOptions& options) {
        if (cancel_.cancelled())
            return Failure{true, {}};
        auto found = find_program(options.program);
        if (!found)
            return Failure{false, found.error().message()};
        program_ = *found;
        // Everything the child needs is prepared before the fork.
        std::vector<std::string> env = pinentry_environment(
            environ, options.session_environment ? options.session_environment()
                                                 : std::vector<std::string>{});
        std::vector<char*> envp;
        for (auto& e : env)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        ChildSetup setup{envp.data()};
        const char* argv[] = {program_.c_str(), nullptr};
        assuan_fd_t keep[] = {ASSUAN_INVALID_FD};  // pinentry's stderr goes to /dev/null
        if (gpg_error_t rc = conn_.open())
            return Failure{false, gpg_strerror(rc)};
        if (gpg_error_t rc = assuan_pipe_connect(conn_.get(), program_.c_str(), argv, keep,
                                                 setup_child, &setup, 0)) {
            return Failure{false, gpg_strerror(rc)};
        }
        const pid_t child = assuan_get_pid(conn_.get());
        if (child > 0 && !cancel_.set_canceller([child] { kill(child, SIGTERM); }))
            return Failure{true, {}};
        watchdog_.emplace(options.timeout + options.grace, cancel_);
        return std::nullopt;
    }

    const std::string& program() const { return program_; }
    assuan_context_t get() const { return conn_.get(); }
    gpg_error_t command(const std::string& line) { return conn_.command(line); }
    // The first of `lines` that fails, and its error; 0 when all succeeded.
    gpg_error_t commands(const std::vector<std::string>& lines) {
        for (const auto& line : lines) {
            if (gpg_error_t rc = conn_.command(line))
                return rc;
        }
        return 0;
    }
    bool timed_out() { return watchdog_ && watchdog_->fired(); }

  private:
    PromptCancel& cancel_;
    Connection conn_;  // declared first among the handles: destroyed last, reaping the child
    std::optional<Watchdog> watchdog_;
    std::string program_;
};

}  // namespace

Result<std::string> find_program(const std::string& program) {
    if (program.empty())
        return Error("no pinentry program is configured");
    if (program.find('/') != std::string::npos) {
        if (access(program.c_str(), X_OK) != 0)
            return Error(program + " is not an executable file");
        return program;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        std::string dir = dirs.substr(start, end - start);
        if (!dir.empty() && dir.front() == '/') {  // relative PATH entries are ignored
            std::string candidate = dir + "/" + program;
            if (access(candidate.c_str(), X_OK) == 0)
                return candidate;
        }
        start = end + 1;
    }
    return Error("no program '" + program + "' in PATH (install a pinentry package)");
}

std::vector<std::string> pinentry_environment(char** base,
                                              const std::vector<std::string>& overrides) {
    auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
    auto agent_only = [](const std::string& name) {
        return name == "LISTEN_FDS" || name == "LISTEN_PID" || name == "LISTEN_FDNAMES" ||
               name == "NOTIFY_SOCKET" || name == "WATCHDOG_PID" || name == "WATCHDOG_USEC";
    };
    std::vector<std::string> env;
    for (char** e = base; e != nullptr && *e != nullptr; ++e) {
        std::string entry(*e);
        const std::string name = name_of(entry);
        if (agent_only(name))
            continue;
        bool replaced = false;
        for (const auto& o : overrides)
            replaced |= name_of(o) == name;
        if (!replaced)
            env.push_back(std::move(entry));
    }
    for (const auto& o : overrides) {
        if (o.find('=') != std::string::npos)
            env.push_back(o);
    }
    return env;
}

Result<PinPromptAnswer> PinentryPrompter::ask_pin(const PinPromptRequest& request,
                                                  PromptCancel& cancel) {
    std::lock_guard one_dialog(dialog_mutex_);
    const PromptTexts texts = prompt_texts(request);
    Dialog dialog(cancel);
    if (auto failure = dialog.start(options_)) {
        if (failure->cancelled)
            return cancelled("the PIN prompt was ended before it opened");
        return cannot_prompt(options_.program, failure->why);
    }
    auto failed = [&](gpg_error_t rc, const char* what) -> Error {
        if (cancel.cancelled())
            return cancelled("the PIN prompt was closed (token locked or removed, or no answer)");
        if (is_cancel(rc)) {
            return cancelled(gpg_err_code(rc) == GPG_ERR_TIMEOUT ? "no PIN was entered in time"
                                                                 : "the PIN entry was cancelled");
        }
        return cannot_prompt(dialog.program(), std::string(what) + ": " + gpg_strerror(rc));
    };

    if (gpg_error_t rc = dialog.commands({
            "SETTIMEOUT " + std::to_string(options_.timeout.count()),
            "SETTITLE " + assuan_escape(texts.title),
            "SETPROMPT " + assuan_escape(texts.prompt),
            "SETCANCEL Cancel",
        })) {
        return failed(rc, "setting up the dialog");
    }

    PinPromptAnswer answer;
    if (texts.confirm_final_try) {
        if (gpg_error_t rc = dialog.command("SETDESC " + assuan_escape(texts.confirm_description)))
            return failed(rc, "setting up the dialog");
        if (gpg_error_t rc = dialog.command("SETOK Enter the PIN"))
            return failed(rc, "setting up the dialog");
        if (gpg_error_t rc = dialog.command("CONFIRM")) {
            if (is_cancel(rc) && !cancel.cancelled())
                return cancelled("the last PIN attempt was not confirmed; the card is untouched");
            return failed(rc, "CONFIRM");
        }
        answer.final_try_confirmed = true;
    }
    if (gpg_error_t rc = dialog.command("SETDESC " + assuan_escape(texts.description)))
        return failed(rc, "setting up the dialog");
    if (gpg_error_t rc = dialog.command("SETOK " + assuan_escape(texts.ok_label)))
        return failed(rc, "setting up the dialog");
    if (!texts.error.empty()) {
        if (gpg_error_t rc = dialog.command("SETERROR " + assuan_escape(texts.error)))
            return failed(rc, "setting up the dialog");
    }
    assuan_begin_confidential(dialog.get());
    gpg_error_t rc = assuan_transact(dialog.get(), "GETPIN", collect_pin, &answer.pin, nullptr,
                                     nullptr, nullptr, nullptr);
    assuan_end_confidential(dialog.get());
    if (rc) {
        answer.pin.clear();
        return failed(rc, "GETPIN");
    }
    if (cancel.cancelled()) {
        answer.pin.clear();
        return cancelled("the PIN prompt was closed (token locked or removed)");
    }
    if (answer.pin.empty())
        return cancelled("no PIN was entered; the card is untouched");
    return answer;
}

// pinentry's CONFIRM answers: OK (allowed), the user's "no" (GPG_ERR_CANCELED when the
// dialog was closed or cancelled, GPG_ERR_NOT_CONFIRMED from the cancel button of some
// variants), or its own SETTIMEOUT passing (GPG_ERR_TIMEOUT).
Result<ConfirmAnswer> PinentryPrompter::confirm(const ConfirmRequest& request,
                                                PromptCancel& cancel) {
    std::lock_guard one_dialog(dialog_mutex_);
    Dialog dialog(cancel);
    if (auto failure = dialog.start(options_)) {
        if (failure->cancelled)
            return cancelled("the confirmation was ended before it opened");
        return cannot_confirm(options_.program, failure->why);
    }
    // After a failed command or CONFIRM: the agent's deadline, a cancel, or a broken dialog.
    auto ended = [&](gpg_error_t rc, const std::string& what) -> Result<ConfirmAnswer> {
        if (dialog.timed_out())
            return ConfirmAnswer::timed_out;
        if (cancel.cancelled())
            return cancelled("the confirmation dialog was closed (token locked or removed)");
        return cannot_confirm(dialog.program(), what + ": " + gpg_strerror(rc));
    };
    if (gpg_error_t rc = dialog.commands({
            "SETTIMEOUT " + std::to_string(options_.timeout.count()),
            "SETTITLE " + assuan_escape(request.title),
            "SETDESC " + assuan_escape(request.description),
            "SETOK " + assuan_escape(request.ok),
            "SETCANCEL " + assuan_escape(request.cancel),
        })) {
        return ended(rc, "setting up the dialog");
    }
    const gpg_error_t rc = dialog.command("CONFIRM");
    if (rc == 0 && !dialog.timed_out() && !cancel.cancelled())
        return ConfirmAnswer::allowed;
    switch (gpg_err_code(rc)) {
        case GPG_ERR_TIMEOUT:
            return ConfirmAnswer::timed_out;
        case GPG_ERR_CANCELED:
        case GPG_ERR_FULLY_CANCELED:
        case GPG_ERR_ASS_CANCELED:
        case GPG_ERR_NOT_CONFIRMED:
            if (!dialog.timed_out() && !cancel.cancelled())
                return ConfirmAnswer::denied;
            break;
        default:
            break;
    }
    return ended(rc, "CONFIRM");
}

}  // namespace attache::agent
