#include "pkcs11/module_helper/client/helper_spawner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace attache::p11::module_helper {
namespace {

// The spawner thread: runs jobs in order, lives as long as the process.
class SpawnerThread {
  public:
    static SpawnerThread& get() {
        static auto* t = new SpawnerThread;  // never destroyed: helpers outlive static teardown
        return *t;
    }

    void run(std::function<void()> job) {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
        wake_.notify_one();
    }

  private:
    SpawnerThread() {
        std::thread([this] { loop(); }).detach();
    }

    void loop() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return !jobs_.empty(); });
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
};

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

// Only async-signal-safe calls: the parent has other threads.
[[noreturn]] void exec_child(int socket, pid_t parent, const char* path, char* const* argv,
                             char* const* envp) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
        _exit(127);
    if (socket == kHelperSocketFd) {
        if (fcntl(socket, F_SETFD, 0) != 0)
            _exit(127);
    } else if (dup2(socket, kHelperSocketFd) != kHelperSocketFd) {
        _exit(127);
    }
    syscall(SYS_close_range, kHelperSocketFd + 1, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    execve(path, argv, envp);
    _exit(127);
}

Result<SpawnedHelper> spawn_here(const std::string& helper_path, const std::string& module_path,
                                 const std::vector<std::string>& environment) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return Error(errno_text("socketpair"));
    std::string fd_arg = std::to_string(kHelperSocketFd);
    std::vector<char*> argv = {const_cast<char*>(helper_path.c_str()), const_cast<char*>("--fd"),
                               fd_arg.data(), const_cast<char*>(module_path.c_str()), nullptr};
    std::vector<char*> envp;
    envp.reserve(environment.size() + 1);
    for (const auto& e : environment)
        envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        const std::string err = errno_text("fork");
        close(pair[0]);
        close(pair[1]);
        return Error(err);
    }
    if (pid == 0)
        exec_child(pair[1], parent, helper_path.c_str(), argv.data(), envp.data());
    close(pair[1]);
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        const std::string err = errno_text("pidfd_open");
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        close(pair[0]);
        return Error(err);
    }
    return SpawnedHelper{pair[0], pid, pidfd};
}

}  // namespace

Result<SpawnedHelper> spawn_helper(const std::string& helper_path, const std::string& module_path,
                                   const std::vector<std::string>& environment) {
    if (access(helper_path.c_str(), X_OK) != 0)
        return Error("cannot start the module helper " + helper_path + ": " + std::strerror(errno));
    std::promise<Result<SpawnedHelper>> done;
    auto result = done.get_future();
    SpawnerThread::get().run(
        [&] { done.set_value(spawn_here(helper_path, module_path, environment)); });
    return result.get();
}

}  // namespace attache::p11::module_helper
