#include "tests/bench/environment.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/keygen.h"
#include "pkcs11/module.h"
#include "pkcs11/public_key.h"
#include "pkcs11/secret.h"
#include "tests/bench/clients.h"
#include "tests/bench/runner.h"
#include "tests/support/command.h"

namespace attache::bench {
namespace {

using testing::read_file;
using testing::run_command;
using testing::write_file;

struct KeyToMake {
    p11::KeyAlgorithm algorithm;
    p11::KeyUsage usage;
    std::string label;
};

KeyToMake key_for(Mech m) {
    switch (m) {
        case Mech::rsa2048:
            return {p11::KeyAlgorithm::rsa2048, {.sign = true}, "bench-rsa2048"};
        case Mech::rsa3072:
            return {p11::KeyAlgorithm::rsa3072, {.sign = true}, "bench-rsa3072"};
        case Mech::ec_p256:
            return {p11::KeyAlgorithm::ec_p256, {.sign = true}, "bench-ec-p256"};
        case Mech::ed25519:
            return {p11::KeyAlgorithm::ed25519, {.sign = true}, "bench-ed25519"};
        case Mech::rsa2048_oaep:
            return {p11::KeyAlgorithm::rsa2048, {.decrypt = true}, "bench-rsa2048-oaep"};
    }
    return {};
}

// Generates keys on the token labelled `token` of `module_path` (SOFTHSM2_CONF chooses the
// installation) and returns the public keys' SubjectPublicKeyInfo.
Result<std::vector<Bytes>> generate_keys(const std::string& module_path, const std::string& token,
                                         const std::vector<KeyToMake>& keys) {
    ATTACHE_TRY(p11::Module module, p11::Module::load(module_path));
    ATTACHE_TRY(auto slots, module.slots(true));
    std::optional<CK_SLOT_ID> slot;
    for (CK_SLOT_ID s : slots) {
        auto info = module.token_info(s);
        if (info && info->label == token)
            slot = s;
    }
    if (!slot)
        return Error("no token labelled " + token);
    ATTACHE_TRY(p11::Session session, module.open_session(*slot, /*read_write=*/true));
    Secret pin;
    Secret::from(kBenchPin, pin);
    ATTACHE_CHECK(session.login(CKU_USER, &pin));
    std::vector<Bytes> spkis;
    for (const auto& k : keys) {
        p11::KeyPairSpec spec;
        spec.algorithm = k.algorithm;
        spec.usage = k.usage;
        spec.label = k.label;
        ATTACHE_TRY(p11::KeyPairHandles h, p11::generate_key_pair(session, spec));
        ATTACHE_TRY(auto values, session.read(h.public_key, p11::kPublicKeyAttributes));
        ATTACHE_TRY(p11::Pkey pkey, p11::public_key_from(values));
        ATTACHE_TRY(Bytes spki, p11::spki_der(pkey.get()));
        spkis.push_back(std::move(spki));
    }
    (void)session.logout();
    return spkis;
}

Result<Bytes> oaep_encrypt(const Bytes& spki, const Bytes& plaintext) {
    ATTACHE_TRY(p11::Pkey pkey, p11::pkey_from_spki(spki));
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pkey.get(), nullptr);
    size_t len = 0;
    Bytes out;
    bool ok = ctx && EVP_PKEY_encrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) == 1 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) == 1 &&
              EVP_PKEY_encrypt(ctx, nullptr, &len, plaintext.data(), plaintext.size()) == 1;
    if (ok) {
        out.resize(len);
        ok = EVP_PKEY_encrypt(ctx, out.data(), &len, plaintext.data(), plaintext.size()) == 1;
        out.resize(len);
    }
    EVP_PKEY_CTX_free(ctx);
    if (!ok)
        return Error("OpenSSL could not encrypt with RSA-OAEP");
    return out;
}

Bytes random_bytes(size_t n) {
    Bytes b(n);
    RAND_bytes(b.data(), static_cast<int>(n));
    return b;
}

std::string softhsm_conf(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir / "tokens");
    const auto conf = dir / "softhsm2.conf";
    write_file(conf, "directories.tokendir = " + (dir / "tokens").string() +
                         "\nobjectstore.backend = file\nlog.level = ERROR\n"
                         "slots.removable = false\n");
    return conf.string();
}

std::string tail(const std::string& text, size_t lines) {
    size_t pos = text.size();
    for (size_t n = 0; n <= lines && pos > 0; ++n) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos)
            return text;
    }
    return text.substr(pos + 1);
}

// A native-protocol call that must succeed.
Result<protocol::Reply> call_ok(const std::string& socket, protocol::Request request) {
    ATTACHE_TRY(protocol::Client c, protocol::Client::connect(socket, "attache-bench"));
    ATTACHE_TRY(protocol::Reply reply, c.call(request));
    if (auto* e = std::get_if<protocol::ErrorReply>(&reply))
        return Error(std::string("attache-agent: ") + e->message);
    return reply;
}

Status unlock(const std::string& socket, const std::string& token_uri) {
    protocol::UnlockRequest u;
    u.token = token_uri;
    Secret pin;
    Secret::from(kBenchPin, pin);
    u.pin = std::move(pin);
    ATTACHE_TRY(auto reply, call_ok(socket, protocol::Request(std::move(u))));
    (void)reply;
    return ok();
}

// An EC P-256 key "<token>-ec" on each of `tokens` of another SoftHSM2 installation, made in
// a child with that SOFTHSM2_CONF: this process has not loaded SoftHSM2 yet, and will load it
// for the bench installation.
Status make_ec_keys_in_child(const std::string& softhsm, const std::string& conf,
                             const std::vector<std::string>& tokens) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SOFTHSM2_CONF", conf.c_str(), 1);
        bool ok = true;
        for (const std::string& t : tokens) {
            auto r = generate_keys(softhsm, t,
                                   {{p11::KeyAlgorithm::ec_p256, {.sign = true}, t + "-ec"}});
            if (!r) {
                std::fprintf(stderr, "attache-bench: keys on %s: %s\n", t.c_str(),
                             r.error().message().c_str());
                ok = false;
            }
        }
        std::fflush(stderr);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        return Error("could not make the keys of the installation " + conf);
    }
    return ok();
}

}  // namespace

Status fill_agent_ids(const std::string& socket, std::vector<BenchKey*> keys,
                      std::string BenchKey::*id) {
    ATTACHE_TRY(protocol::Reply reply, call_ok(socket, protocol::ListKeysRequest{}));
    auto* list = std::get_if<protocol::ListKeysReply>(&reply);
    if (!list)
        return Error("attache-agent answered list keys with something else");
    for (BenchKey* k : keys) {
        const protocol::KeyEntry* found = nullptr;
        for (const auto& e : list->keys) {
            if (e.label == k->label)
                found = &e;
        }
        if (!found)
            return Error("attache-agent does not list the key " + k->label);
        if (!found->served)
            return Error("attache-agent does not serve the key " + k->label + ": " +
                         found->refusal);
        (k->*id) = found->id;
        if (k->spki.empty())
            k->spki = found->spki;
    }
    return ok();
}

Environment::Environment(Tools tools) : tools_(std::move(tools)) {}

Environment::~Environment() {
    helper_agent_.stop();
    fair_agent_.stop();
    iso_agent_.stop();
    p11kit_.stop();
    ssh_agent_.stop();
    // An agent under valgrind needs longer to write its profile.
    agent_.stop(tools_.agent_wrapper.empty() ? 5000 : 60000);
}

Result<CK_SLOT_ID> Environment::init_token(const std::string& conf, const std::string& label) {
    auto r = run_command({"softhsm2-util", "--init-token", "--free", "--label", label, "--pin",
                          kBenchPin, "--so-pin", kBenchSoPin},
                         {}, {{"SOFTHSM2_CONF", conf}});
    std::smatch m;
    static const std::regex slot_re("reassigned to slot ([0-9]+)");
    if (r.exit_code != 0 || !std::regex_search(r.out, m, slot_re))
        return Error("softhsm2-util --init-token failed: " + testing::describe(r));
    return static_cast<CK_SLOT_ID>(std::stoul(m[1].str()));
}

Status Environment::make_tokens(const std::vector<Mech>& mechs, bool isolation_tokens,
                                bool fairness_token) {
    bench_conf_ = softhsm_conf(dir_ / "softhsm");
    ATTACHE_TRY(CK_SLOT_ID bench_slot, init_token(bench_conf_, bench_token_));
    (void)bench_slot;
    if (isolation_tokens) {
        iso_conf_ = softhsm_conf(dir_ / "softhsm-iso");
        ATTACHE_TRY(iso_slot_a_, init_token(iso_conf_, "iso-a"));
        ATTACHE_TRY(CK_SLOT_ID slot_b, init_token(iso_conf_, "iso-b"));
        (void)slot_b;
        ATTACHE_CHECK(make_ec_keys_in_child(tools_.softhsm, iso_conf_, {"iso-a", "iso-b"}));
    }
    if (fairness_token) {
        fair_conf_ = softhsm_conf(dir_ / "softhsm-fair");
        ATTACHE_TRY(CK_SLOT_ID fair_slot, init_token(fair_conf_, "fair"));
        (void)fair_slot;
        ATTACHE_CHECK(make_ec_keys_in_child(tools_.softhsm, fair_conf_, {"fair"}));
    }
    setenv("SOFTHSM2_CONF", bench_conf_.c_str(), 1);
    std::vector<KeyToMake> specs;
    for (Mech m : mechs)
        specs.push_back(key_for(m));
    ATTACHE_TRY(auto spkis, generate_keys(tools_.softhsm, bench_token_, specs));
    for (size_t i = 0; i < mechs.size(); ++i)
        keys_.push_back({mechs[i], specs[i].label, spkis[i], {}});
    message_ = random_bytes(64);
    plaintext_ = random_bytes(32);
    if (const BenchKey* k = key(Mech::rsa2048_oaep)) {
        ATTACHE_TRY(ciphertext_, oaep_encrypt(k->spki, plaintext_));
    }
    return ok();
}

const BenchKey* Environment::key(Mech m) const {
    for (const auto& k : keys_) {
        if (k.mech == m)
            return &k;
    }
    return nullptr;
}

std::string Environment::agent_socket() const {
    return (dir_ / "agent/run/agent.sock").string();
}
std::string Environment::agent_ssh_socket() const {
    return (dir_ / "agent/run/ssh.sock").string();
}
std::string Environment::ssh_agent_socket() const {
    return (dir_ / "ssh-agent.sock").string();
}
std::string Environment::p11kit_socket() const {
    return (dir_ / "p11-kit.sock").string();
}
std::string Environment::helper_agent_socket() const {
    return (dir_ / "agent-helper/run/agent.sock").string();
}
std::string Environment::fairness_socket() const {
    return (dir_ / "fair-agent/run/agent.sock").string();
}
std::string Environment::isolation_socket() const {
    return (dir_ / "iso-agent/run/agent.sock").string();
}
std::string Environment::isolation_ssh_socket() const {
    return (dir_ / "iso-agent/run/ssh.sock").string();
}

void Environment::truncate_agent_log() const {
    std::error_code ec;
    std::filesystem::resize_file(dir_ / "agent.log", 0, ec);
    std::filesystem::resize_file(dir_ / "agent-helper.log", 0, ec);
}

std::string Environment::agent_log_tail() const {
    try {
        return tail(read_file(dir_ / "agent.log"), 20);
    } catch (...) {
        return "(no log)";
    }
}

Status Environment::start_attache(Child& child, const std::string& name, const std::string& module,
                                  const std::string& tokens,
                                  const std::map<std::string, std::string>& env,
                                  const std::vector<std::string>& config_lines) {
    const auto home = dir_ / name;
    std::filesystem::create_directories(home / "run");
    std::filesystem::permissions(home / "run", std::filesystem::perms::owner_all);
    const auto config = home / "agent.toml";
    // Defaults everywhere else: what a user gets (workers_per_token = max(cores, 8), ...).
    std::string text = "modules = [\"" + module + "\"]\ntokens = \"" + tokens + "\"\n";
    for (const auto& line : config_lines)
        text += line + "\n";
    write_file(config, text);
    // The policy the benchmark measures: one rule allowing every client (evaluated for each
    // operation like any policy; a fleet's default would ask to confirm unlisted programs).
    const auto policy = home / "policy.toml";
    write_file(policy, "[[rule]]\nname = \"benchmark clients\"\naction = \"allow\"\n");
    const auto admin = home / "admin.toml";
    write_file(admin, "policy = \"" + policy.string() + "\"\n");
    auto full_env = env;
    full_env["HOME"] = home.string();
    full_env["XDG_CONFIG_HOME"] = (home / "config").string();
    full_env["XDG_RUNTIME_DIR"] = (home / "run").string();
    const std::string socket = (home / "run/agent.sock").string();
    const int64_t t0 = monotonic_ns();
    std::vector<std::string> argv;
    if (name == "agent")
        argv = tools_.agent_wrapper;
    for (const std::string& a :
         {tools_.agent, std::string("--foreground"), std::string("--config"), config.string(),
          std::string("--admin-config"), admin.string(), std::string("--socket"), socket,
          std::string("--ssh-socket"), (home / "run/ssh.sock").string()})
        argv.push_back(a);
    ATTACHE_TRY(child, Child::spawn(argv, full_env, (dir_ / (name + ".log")).string()));
    // Started: the first `list keys` it answers.
    for (;;) {
        if (!child.running()) {
            return Error("attache-agent (" + name + ") exited at start:\n" +
                         tail(read_file(dir_ / (name + ".log")), 20));
        }
        if (auto c = protocol::Client::connect(socket, "attache-bench")) {
            auto reply = c->call(protocol::ListKeysRequest{});
            if (reply && std::holds_alternative<protocol::ListKeysReply>(*reply))
                break;
        }
        if (monotonic_ns() - t0 > 120'000'000'000) {
            return Error("attache-agent (" + name + ") did not answer within 120 s:\n" +
                         tail(read_file(dir_ / (name + ".log")), 20));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (name == "agent")
        startup_ms_.push_back(static_cast<double>(monotonic_ns() - t0) / 1e6);
    return ok();
}

Status Environment::start_agent(int samples) {
    for (int i = 0; i < samples; ++i) {
        if (agent_.running())
            agent_.stop();
        // Path (b): the module inside the agent (path (h) is the default, a helper process).
        std::vector<std::string> lines{"module_process = \"in-process\""};
        lines.insert(lines.end(), tools_.agent_config.begin(), tools_.agent_config.end());
        ATTACHE_CHECK(start_attache(agent_, "agent", tools_.softhsm, "pkcs11:token=" + bench_token_,
                                    {}, lines));
    }
    ATTACHE_CHECK(unlock(agent_socket(), ""));
    std::vector<BenchKey*> keys;
    for (auto& k : keys_)
        keys.push_back(&k);
    ATTACHE_CHECK(fill_agent_ids(agent_socket(), keys));
    // Idle: unlocked, keys listed, nothing running.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    idle_rss_kib_ = proc_status_kib(agent_.pid(), "VmRSS");
    idle_pss_kib_ = proc_rollup_kib(agent_.pid(), "Pss");
    idle_anon_kib_ = proc_rollup_kib(agent_.pid(), "Anonymous");
    return ok();
}

Status Environment::start_ssh_agent() {
    const std::string sock = ssh_agent_socket();
    ATTACHE_TRY(ssh_agent_, Child::spawn({"ssh-agent", "-D", "-a", sock}, {},
                                         (dir_ / "ssh-agent.log").string()));
    if (!wait_for_path(sock, 10'000))
        return Error("ssh-agent did not create " + sock);
    // ssh-add asks for the PIN through SSH_ASKPASS (forced: never the terminal).
    const auto askpass = dir_ / "askpass.sh";
    write_file(askpass, std::string("#!/bin/sh\necho ") + kBenchPin + "\n");
    std::filesystem::permissions(askpass, std::filesystem::perms::owner_all);
    auto r = run_command({"ssh-add", "-s", tools_.softhsm}, std::string(kBenchPin) + "\n",
                         {{"SSH_AUTH_SOCK", sock},
                          {"SSH_ASKPASS", askpass.string()},
                          {"SSH_ASKPASS_REQUIRE", "force"}});
    if (r.exit_code != 0)
        return Error("ssh-add -s " + tools_.softhsm + " failed: " + testing::describe(r));
    return ok();
}

Status Environment::start_p11kit_server() {
    const std::string sock = p11kit_socket();
    ATTACHE_TRY(p11kit_, Child::spawn({"p11-kit", "server", "-f", "-n", sock, "--provider",
                                       tools_.softhsm, "pkcs11:token=" + bench_token_},
                                      {}, (dir_ / "p11-kit.log").string()));
    if (!wait_for_path(sock, 10'000))
        return Error("p11-kit server did not create " + sock);
    // Every client of p11-kit-client.so, thread or process, finds the server through this.
    setenv("P11_KIT_SERVER_ADDRESS", ("unix:path=" + sock).c_str(), 1);
    return ok();
}

Status Environment::start_isolation_agent() {
    if (iso_conf_.empty())
        return Error("no isolation tokens were made");
    const std::string control = (dir_ / "fault-control").string();
    fault_ = std::make_unique<faulttoken::FaultControl>(faulttoken::FaultControl::create(control));
    ATTACHE_CHECK(start_attache(iso_agent_, "iso-agent", tools_.faulttoken, "pkcs11:",
                                {{"ATTACHE_FAULT_CONTROL", control},
                                 {"ATTACHE_FAULT_MODULE", tools_.softhsm},
                                 {"SOFTHSM2_CONF", iso_conf_}}));
    ATTACHE_TRY(auto reply, call_ok(isolation_socket(), protocol::StatusRequest{}));
    auto* status = std::get_if<protocol::StatusReply>(&reply);
    if (!status || status->tokens.size() != 2)
        return Error("the isolation agent does not show two tokens");
    for (const auto& t : status->tokens)
        ATTACHE_CHECK(unlock(isolation_socket(), t.uri));
    return fill_agent_ids(isolation_socket(), {&iso_key_a_, &iso_key_b_});
}

}  // namespace attache::bench

namespace attache::bench {

Status Environment::start_fairness_agent() {
    if (fair_conf_.empty())
        return Error("no fairness token was made");
    const std::string control = (dir_ / "fair-control").string();
    fair_fault_ =
        std::make_unique<faulttoken::FaultControl>(faulttoken::FaultControl::create(control));
    ATTACHE_CHECK(start_attache(fair_agent_, "fair-agent", tools_.faulttoken, "pkcs11:token=fair",
                                {{"ATTACHE_FAULT_CONTROL", control},
                                 {"ATTACHE_FAULT_MODULE", tools_.softhsm},
                                 {"SOFTHSM2_CONF", fair_conf_}},
                                {"workers_per_token = 1"}));
    ATTACHE_CHECK(unlock(fairness_socket(), ""));
    return fill_agent_ids(fairness_socket(), {&fair_key_});
}

Status Environment::start_helper_agent() {
    std::vector<std::string> lines = tools_.agent_config;
    lines.push_back("module_process = \"helper\"");
    ATTACHE_CHECK(start_attache(helper_agent_, "agent-helper", tools_.softhsm,
                                "pkcs11:token=" + bench_token_, {}, lines));
    ATTACHE_CHECK(unlock(helper_agent_socket(), ""));
    std::vector<BenchKey*> keys;
    for (auto& k : keys_)
        keys.push_back(&k);
    return fill_agent_ids(helper_agent_socket(), keys, &BenchKey::helper_agent_id);
}

}  // namespace attache::bench
