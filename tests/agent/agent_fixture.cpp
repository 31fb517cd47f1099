#include "tests/agent/agent_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace attache::testing {
namespace {

std::string workers_line(unsigned workers) {
    return workers == 0 ? std::string() : "\nworkers_per_token = " + std::to_string(workers);
}

}  // namespace

UniqueFd raw_connect(const std::string& path) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return {};
    timeval tv{20, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

bool closed_by_agent(int fd) {
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

std::vector<TestKey> default_keys() {
    return {
        {p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}},
        {p11::KeyAlgorithm::rsa2048, "rsa-sign", {.sign = true}},
        {p11::KeyAlgorithm::ed25519, "ed-sign", {.sign = true}},
        {p11::KeyAlgorithm::rsa2048, "rsa-decrypt", {.decrypt = true}},
        {p11::KeyAlgorithm::ec_p256, "ec-derive", {.derive = true}},
    };
}

AgentFixture::AgentFixture() {
    std::filesystem::create_directory(dir_ / "run");
    std::filesystem::permissions(dir_ / "run", std::filesystem::perms::owner_all);
}

AgentFixture::~AgentFixture() {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    unsetenv("ATTACHE_FAULT_CONTROL");
}

CK_SLOT_ID AgentFixture::add_token(const std::string& label, const std::vector<TestKey>& keys) {
    CK_SLOT_ID slot = hsm_.add_token(label);
    add_keys(slot, keys);
    return slot;
}

void AgentFixture::add_keys(CK_SLOT_ID slot, const std::vector<TestKey>& keys) {
    auto module = p11::Module::load(SoftHsm::module_path());
    EXPECT_TRUE(module) << module.error().message();
    auto session = module->open_session(slot, true);
    EXPECT_TRUE(session) << session.error().message();
    Secret pin;
    Secret::from(SoftHsm::kUserPin, pin);
    EXPECT_TRUE(session->login(CKU_USER, &pin));
    for (const auto& k : keys) {
        p11::KeyPairSpec spec;
        spec.algorithm = k.algorithm;
        spec.usage = k.usage;
        spec.label = k.label;
        spec.always_authenticate = k.always_authenticate;
        auto r = p11::generate_key_pair(*session, spec);
        EXPECT_TRUE(r) << r.error().message();
    }
    (void)session->logout();
}

// The agent's default runs each module in a helper process; ctest runs the whole suite again
// with ATTACHE_TEST_MODULE_BACKEND=in-process (the in_process_backend.* entries). A test that
// sets module_process itself keeps its own.
static std::string backend_line(const std::string& extra_config) {
    const char* backend = std::getenv("ATTACHE_TEST_MODULE_BACKEND");
    if (backend == nullptr || extra_config.find("module_process") != std::string::npos)
        return {};
    return std::string("module_process = \"") + backend + "\"\n";
}

void AgentFixture::start(const AgentOptions& options) {
    std::string module = options.module.empty() ? SoftHsm::module_path() : options.module;
    if (options.fault_token) {
        const std::string control = (dir_ / "fault-control").string();
        fault_ =
            std::make_unique<faulttoken::FaultControl>(faulttoken::FaultControl::create(control));
        setenv("ATTACHE_FAULT_CONTROL", control.c_str(), 1);
        module = ATTACHE_FAULTTOKEN_PATH;
        if (options.before_start)
            options.before_start(*fault_);
    }
    const auto config = dir_ / "agent.toml";
    std::string modules = "\"" + module + "\"";
    for (const auto& m : options.more_modules)
        modules += ", \"" + m + "\"";
    write_file(config, "modules = [" + modules +
                           "]\npoll_interval_ms = " + std::to_string(options.poll_interval_ms) +
                           workers_line(options.workers_per_token) + "\npinentry = \"" +
                           options.pinentry + "\"\n" + backend_line(options.extra_config) +
                           options.extra_config + "\n");
    write_test_admin_config(dir_.path(), options.policy.value_or(kTestPolicy),
                            options.admin_config);
    if (options.run_as) {
        // The agent's files must belong to the user it runs as.
        for (const auto& root : {dir_.path(), hsm_.dir().path()}) {
            chown(root.c_str(), *options.run_as, *options.run_as);
            for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
                chown(e.path().c_str(), *options.run_as, *options.run_as);
            }
        }
    }
    // Another user runs copies in the test's own directory: the build tree may sit where that
    // user cannot enter (a 0700 home).
    std::string agent_path = ATTACHE_AGENT_PATH;
    if (options.run_as) {
        std::filesystem::create_directories(dir_ / "bin");
        agent_path = (dir_ / "bin/attache-agent").string();
        std::filesystem::copy_file(ATTACHE_AGENT_PATH, agent_path);
        // The module helper the agent starts by default is the one beside it.
        std::filesystem::copy_file(
            std::filesystem::path(ATTACHE_AGENT_PATH).parent_path() / "attache-module-helper",
            dir_ / "bin/attache-module-helper");
        std::string config_text = read_file(config);
        if (options.fault_token) {
            const std::string copy = (dir_ / "bin/libattache-faulttoken.so").string();
            std::filesystem::copy_file(ATTACHE_FAULTTOKEN_PATH, copy);
            config_text.replace(config_text.find(module), module.size(), copy);
            write_file(config, config_text);
        }
        for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path()))
            chown(e.path().c_str(), *options.run_as, *options.run_as);
        chown(dir_.path().c_str(), *options.run_as, *options.run_as);
    }
    const std::string log_path = (dir_ / "agent.log").string();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
        int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(log_fd, 2);
        dup2(log_fd, 1);
        if (options.run_as && (setgid(*options.run_as) != 0 || setuid(*options.run_as) != 0)) {
            _exit(126);
        }
        setenv("HOME", dir_.path().c_str(), 1);
        const std::string admin = (dir_ / "admin.toml").string();
        const std::string agent = options.agent_path.empty() ? agent_path : options.agent_path;
        execl(agent.c_str(), "attache-agent", "--foreground", "--config", config.c_str(),
              "--admin-config", admin.c_str(), "--socket", socket().c_str(), "--ssh-socket",
              (dir_ / "run/ssh.sock").c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Wait until the socket answers (or the agent died).
    for (int i = 0; i < 300; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            FAIL() << "attache-agent exited at start:\n" << log();
        }
        if (options.run_as) {
            // The agent refuses this (root) client, but a connect that succeeds shows it listens.
            if (raw_connect(socket()).valid())
                return;
        } else if (protocol::Client::connect(socket(), "test")) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "attache-agent did not start:\n" << log();
}

int AgentFixture::stop() {
    if (pid_ <= 0)
        return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500; ++i) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
}

std::string AgentFixture::log() const {
    try {
        return read_file(dir_ / "agent.log");
    } catch (...) {
        return "(no log)";
    }
}

protocol::Client AgentFixture::client() {
    auto c = protocol::Client::connect(socket(), "test");
    if (!c)
        throw std::runtime_error(c.error().message());
    return std::move(*c);
}

CommandResult AgentFixture::cli(const std::vector<std::string>& args, const std::string& input,
                                std::map<std::string, std::string> env) {
    std::vector<std::string> argv{ATTACHE_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    env["ATTACHE_SOCK"] = socket();
    return run_command(argv, input, env);
}

void AgentFixture::unlock(const std::string& token_uri) {
    auto c = client();
    protocol::UnlockRequest u;
    u.token = token_uri;
    Secret pin;
    Secret::from(SoftHsm::kUserPin, pin);
    u.pin = std::move(pin);
    auto reply = c.call(protocol::Request(std::move(u)));
    ASSERT_TRUE(reply) << reply.error().message();
    auto* e = std::get_if<protocol::ErrorReply>(&*reply);
    ASSERT_EQ(e, nullptr) << e->message;
}

protocol::KeyEntry AgentFixture::key(const std::string& label) {
    auto c = client();
    auto reply = c.call(protocol::ListKeysRequest{});
    if (!reply)
        throw std::runtime_error(reply.error().message());
    for (auto& k : std::get<protocol::ListKeysReply>(*reply).keys) {
        if (k.label == label)
            return k;
    }
    throw std::runtime_error("no key labelled " + label);
}

std::string write_temp(const TempDir& dir, const std::string& name, const Bytes& data) {
    const auto path = dir / name;
    write_file(path, std::string(data.begin(), data.end()));
    return path.string();
}

}  // namespace attache::testing
