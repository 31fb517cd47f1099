// attache-bench: what attache-agent costs over direct PKCS#11, side by side with OpenSSH's
// ssh-agent and p11-kit's server, in one run (issue 8). See tests/bench/README.md and
// docs/performance.md.

#include <openssl/crypto.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "pkcs11/agent_protocol/client.h"
#include "tests/bench/clients.h"
#include "tests/bench/environment.h"
#include "tests/bench/fairness.h"
#include "tests/bench/report.h"
#include "tests/bench/runner.h"
#include "tests/support/command.h"

namespace attache::bench {
namespace {

struct Options {
    std::string title = "full run";
    double seconds = 1.25;
    int reps = 3;
    std::vector<int> clients{1, 2, 4, 8};
    std::vector<Mode> modes{Mode::threads, Mode::processes};
    std::vector<Mech> mechs{std::begin(kAllMechs), std::end(kAllMechs)};
    std::vector<PathId> paths{std::begin(kAllPaths), std::end(kAllPaths)};
    bool isolation = true;
    int isolation_reps = 3;
    bool fairness = true;
    int fairness_reps = 5;
    int fairness_burst = 50;
    int fairness_delay_ms = 80;
    int startup_samples = 5;
    int cli_samples = 10;
    uint64_t max_ops = UINT64_MAX;
    std::string output;  // docs/performance.md, or empty
    std::vector<std::string> agent_wrapper;
    std::vector<std::string> agent_config;
};

constexpr const char* kUsage = R"(usage: attache-bench [options]

Measures attache-agent against direct PKCS#11, OpenSSH's ssh-agent and p11-kit's server on
SoftHSM2 tokens it makes, and prints the results as Markdown.

  --quick             about two minutes: 1 repetition of 0.4 s per cell
  --smoke             a few hundred operations: paths a, b, c, EC P-256, 1 and 2 clients
  --seconds S         duration of each cell (default 1.25)
  --reps N            repetitions (default 3); medians are reported
  --clients LIST      e.g. 1,2,4,8 (default)
  --modes LIST        threads,processes (default both)
  --mechs LIST        rsa2048,rsa3072,ec-p256,ed25519,rsa2048-oaep (default all)
  --paths LETTERS     agbhcdef (default all): a direct, b native, c ssh socket,
                      d attache-pkcs11.so, e ssh-agent, f p11-kit, g direct through a
                      module helper, h native on an agent with module_process = "helper"
  --no-isolation      skip the hung-token isolation measurement
  --no-fairness       skip the fairness measurement on a one-session card
  --fairness-burst N  client A's burst (default 50)
  --fairness-delay-ms MS  the card's time per signature (default 80)
  --output FILE       also write the results into FILE (docs/performance.md)

Profiling aids:
  --ops N             stop each client after N operations (with a long --seconds)
  --agent-wrapper CMD run the benchmarked attache-agent under CMD, e.g.
                      "valgrind --tool=callgrind --callgrind-out-file=/tmp/agent.%p"
  --agent-config LINE add LINE to the benchmarked agent's agent.toml, e.g.
                      "workers_per_token = 8" (repeatable; the defaults otherwise)
)";

template <typename T>
Result<std::vector<T>> parse_list(const std::string& text,
                                  const std::function<std::optional<T>(const std::string&)>& one) {
    std::vector<T> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        auto v = one(item);
        if (!v)
            return Error("unknown value '" + item + "'");
        out.push_back(*v);
    }
    if (out.empty())
        return Error("empty list");
    return out;
}

Result<Options> parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> Result<std::string> {
            if (i + 1 >= argc)
                return Error(a + " needs a value");
            return std::string(argv[++i]);
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (a == "--quick") {
            o.title = "quick run";
            o.seconds = 0.4;
            o.reps = 1;
            o.isolation_reps = 1;
            o.startup_samples = 3;
            o.cli_samples = 5;
        } else if (a == "--smoke") {
            o.title = "smoke run";
            o.seconds = 0.2;
            o.reps = 1;
            o.clients = {1, 2};
            o.mechs = {Mech::ec_p256};
            o.paths = {PathId::a_direct, PathId::g_direct_helper, PathId::b_native,
                       PathId::h_agent_helper, PathId::c_ssh};
            o.isolation = false;
            // Proves the fairness cell runs: a tiny burst on a fast card.
            o.fairness_reps = 1;
            o.fairness_burst = 4;
            o.fairness_delay_ms = 20;
            o.startup_samples = 1;
            o.cli_samples = 1;
            o.max_ops = 50;
        } else if (a == "--seconds") {
            ATTACHE_TRY(std::string v, value());
            o.seconds = std::atof(v.c_str());
            if (o.seconds <= 0 || o.seconds > 600)
                return Error("--seconds must be between 0 and 600");
        } else if (a == "--reps") {
            ATTACHE_TRY(std::string v, value());
            o.reps = std::atoi(v.c_str());
            o.isolation_reps = o.reps;
            o.fairness_reps = std::max(o.reps, 5);
            if (o.reps < 1 || o.reps > 100)
                return Error("--reps must be between 1 and 100");
        } else if (a == "--clients") {
            ATTACHE_TRY(std::string v, value());
            ATTACHE_TRY(o.clients,
                        parse_list<int>(v, [](const std::string& s) -> std::optional<int> {
                            int n = std::atoi(s.c_str());
                            if (n < 1 || n > 64)
                                return std::nullopt;
                            return n;
                        }));
        } else if (a == "--modes") {
            ATTACHE_TRY(std::string v, value());
            ATTACHE_TRY(o.modes,
                        parse_list<Mode>(v, [](const std::string& s) -> std::optional<Mode> {
                            if (s == "threads")
                                return Mode::threads;
                            if (s == "processes")
                                return Mode::processes;
                            return std::nullopt;
                        }));
        } else if (a == "--mechs") {
            ATTACHE_TRY(std::string v, value());
            ATTACHE_TRY(o.mechs,
                        parse_list<Mech>(v, [](const std::string& s) { return mech_from_key(s); }));
        } else if (a == "--paths") {
            ATTACHE_TRY(std::string v, value());
            o.paths.clear();
            for (char c : v) {
                auto p = path_from_letter(c);
                if (!p)
                    return Error("--paths takes letters a to h");
                o.paths.push_back(*p);
            }
        } else if (a == "--ops") {
            ATTACHE_TRY(std::string v, value());
            o.max_ops = std::strtoull(v.c_str(), nullptr, 10);
            if (o.max_ops == 0)
                return Error("--ops must be at least 1");
        } else if (a == "--agent-wrapper") {
            ATTACHE_TRY(std::string v, value());
            std::stringstream words(v);
            std::string w;
            while (words >> w)
                o.agent_wrapper.push_back(w);
        } else if (a == "--agent-config") {
            ATTACHE_TRY(std::string v, value());
            o.agent_config.push_back(v);
        } else if (a == "--no-isolation") {
            o.isolation = false;
        } else if (a == "--no-fairness") {
            o.fairness = false;
        } else if (a == "--fairness-burst") {
            ATTACHE_TRY(std::string v, value());
            o.fairness_burst = std::atoi(v.c_str());
            // The agent takes at most 64 connections from one process.
            if (o.fairness_burst < 1 || o.fairness_burst > 60)
                return Error("--fairness-burst must be between 1 and 60");
        } else if (a == "--fairness-delay-ms") {
            ATTACHE_TRY(std::string v, value());
            o.fairness_delay_ms = std::atoi(v.c_str());
            if (o.fairness_delay_ms < 1 || o.fairness_delay_ms > 10'000)
                return Error("--fairness-delay-ms must be between 1 and 10000");
        } else if (a == "--output") {
            ATTACHE_TRY(o.output, value());
        } else {
            return Error("unknown option " + a + " (see --help)");
        }
    }
    return o;
}

// ---- machine and versions -----------------------------------------------------------------

std::string first_line(const std::string& s) {
    std::string line = s.substr(0, s.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
        line.pop_back();
    return line;
}

std::string proc_field(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key)) {
            auto colon = line.find(':');
            if (colon == std::string::npos)
                continue;
            std::string v = line.substr(colon + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    }
    return "unknown";
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::string command_output(const std::vector<std::string>& argv) {
    auto r = testing::run_command(argv);
    if (r.exit_code == 127)
        return "not installed";
    return first_line(r.out.empty() ? r.err : r.out);
}

void describe_machine(Report& r) {
    r.machine.push_back({"cores (nproc)", std::to_string(std::thread::hardware_concurrency())});
    r.machine.push_back({"CPU", proc_field("/proc/cpuinfo", "model name")});
    const long mem_kib = std::atol(proc_field("/proc/meminfo", "MemTotal").c_str());
    r.machine.push_back({"memory", std::to_string(mem_kib / 1024 / 1024) + " GiB"});
    utsname u{};
    uname(&u);
    r.machine.push_back({"kernel", std::string(u.sysname) + " " + u.release});
    r.machine.push_back({"system", [] {
                             std::string v = proc_field("/etc/os-release", "PRETTY_NAME");
                             if (v == "unknown") {
                                 std::ifstream in("/etc/os-release");
                                 std::string line;
                                 while (std::getline(in, line)) {
                                     if (line.starts_with("PRETTY_NAME="))
                                         v = line.substr(12);
                                 }
                             }
                             std::erase(v, '"');
                             return v;
                         }()});
    r.versions.push_back({"SoftHSM2", command_output({"softhsm2-util", "--version"})});
    r.versions.push_back({"OpenSSH", command_output({"ssh", "-V"})});
    r.versions.push_back(
        {"p11-kit", command_output({"dpkg-query", "-W", "-f=${Version}", "p11-kit"})});
    r.versions.push_back({"OpenSSL", OpenSSL_version(OPENSSL_VERSION)});
    r.versions.push_back({"compiler", std::string("g++ ") + __VERSION__});
    std::string commit =
        command_output({"git", "-C", ATTACHE_SOURCE_DIR, "rev-parse", "--short", "HEAD"});
    auto dirty = testing::run_command(
        {"git", "-C", ATTACHE_SOURCE_DIR, "status", "--porcelain", "--untracked-files=no"});
    if (dirty.exit_code == 0 && !dirty.out.empty())
        commit += " with uncommitted changes";
    r.versions.push_back({"Attache", commit});
    r.versions.push_back({"build type", ATTACHE_BUILD_TYPE});
    const std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M %Z", std::localtime(&now));
    r.date = date;
}

// ---- paths ----------------------------------------------------------------------------------

ClientSpec spec_for(PathId p, Mech m, const Environment& env) {
    const BenchKey* k = env.key(m);
    ClientSpec s;
    s.mech = m;
    s.label = k->label;
    s.key_id = k->agent_id;
    s.spki = k->spki;
    s.message = env.message();
    s.ciphertext = env.ciphertext();
    s.plaintext = env.plaintext();
    switch (p) {
        case PathId::a_direct:
            s.kind = Kind::module;
            s.module = env.tools().softhsm;
            s.token = env.bench_token();
            break;
        case PathId::b_native:
            s.kind = Kind::native;
            s.socket = env.agent_socket();
            break;
        case PathId::c_ssh:
            s.kind = Kind::ssh;
            s.socket = env.agent_ssh_socket();
            break;
        case PathId::d_forwarding:
            s.kind = Kind::module;
            s.module = ATTACHE_FORWARDING_PATH;
            s.token = env.bench_token();
            break;
        case PathId::e_ssh_agent:
            s.kind = Kind::ssh;
            s.socket = env.ssh_agent_socket();
            break;
        case PathId::f_p11kit:
            s.kind = Kind::module;
            s.module = env.tools().p11kit_client;
            s.token = env.bench_token();
            break;
        case PathId::g_direct_helper:
            s.kind = Kind::module;
            s.module = env.tools().softhsm;
            s.token = env.bench_token();
            s.module_helper = env.tools().module_helper;
            break;
        case PathId::h_agent_helper:
            s.kind = Kind::native;
            s.socket = env.helper_agent_socket();
            s.key_id = k->helper_agent_id;
            break;
    }
    if (s.kind == Kind::ssh)
        s.message = sshsig_of(s.message);
    return s;
}

// ---- isolation ------------------------------------------------------------------------------

// Token B under load, with nothing hung and then with token A's C_Sign hung.
IsolationSample isolation_sample(Environment& env, Kind kind, const RunLimits& limits,
                                 int clients) {
    IsolationSample s;
    ClientSpec b;
    b.kind = kind;
    b.mech = Mech::ec_p256;
    b.socket = kind == Kind::native ? env.isolation_socket() : env.isolation_ssh_socket();
    b.key_id = env.iso_key_b().agent_id;
    b.spki = env.iso_key_b().spki;
    b.label = env.iso_key_b().label;
    b.message = kind == Kind::ssh ? sshsig_of(env.message()) : env.message();

    CellResult base = run_threads(b, clients, limits);
    if (!base.ok) {
        s.error = "nothing hung: " + base.error;
        return s;
    }
    // Requests on token A that hang: more than its session pool holds, so some wait for a
    // session and some sit in C_Sign.
    constexpr int kStuck = 4;
    auto& fault = env.fault();
    fault.reset_counts();
    fault.hang(faulttoken::Fn::C_Sign, env.iso_slot_a());
    std::atomic<int> released_ok{0};
    std::vector<std::thread> stuck;
    for (int i = 0; i < kStuck; ++i) {
        stuck.emplace_back([&] {
            auto c = protocol::Client::connect(env.isolation_socket(), "attache-bench-stuck");
            if (!c)
                return;
            protocol::SignRequest r;
            r.key = env.iso_key_a().agent_id;
            r.scheme = protocol::SignScheme::ecdsa;
            r.hash = p11::Hash::sha256;
            r.data = env.message();
            auto reply = c->call(protocol::Request(std::move(r)));
            if (reply && std::holds_alternative<protocol::SignReply>(*reply))
                ++released_ok;
        });
    }
    // Wait until the token really holds hung calls.
    const unsigned expected = std::min<unsigned>(kStuck, std::thread::hardware_concurrency());
    const int64_t deadline = monotonic_ns() + 10'000'000'000;
    while (fault.count(faulttoken::Fn::C_Sign) < expected && monotonic_ns() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s.hung_requests = kStuck;
    const uint64_t in_c_sign = fault.count(faulttoken::Fn::C_Sign);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CellResult hung = run_threads(b, clients, limits);
    fault.clear_rules();
    for (auto& t : stuck)
        t.join();
    if (in_c_sign == 0) {
        s.error = "no request reached token A's C_Sign";
        return s;
    }
    if (!hung.ok) {
        s.error = "token A hung: " + hung.error;
        return s;
    }
    if (released_ok.load() != kStuck) {
        s.error = "the hung requests did not all complete once released (" +
                  std::to_string(released_ok.load()) + " of " + std::to_string(kStuck) + ")";
        return s;
    }
    s.ok = true;
    s.base_p50_us = base.p50_us;
    s.base_p99_us = base.p99_us;
    s.base_ops = base.ops_per_s;
    s.hung_p50_us = hung.p50_us;
    s.hung_p99_us = hung.p99_us;
    s.hung_ops = hung.ops_per_s;
    return s;
}

// ---- the run --------------------------------------------------------------------------------

int run(const Options& o) {
    const int64_t t_start = monotonic_ns();
    Report r;
    r.title = o.title;
    r.seconds = o.seconds;
    r.reps = o.reps;
    r.clients = o.clients;
    r.modes = o.modes;
    r.mechs = o.mechs;
    r.load_before = load_average();
    describe_machine(r);
    bool failed = false;
    auto note = [](const std::string& s) {
        std::fprintf(stderr, "attache-bench: %s\n", s.c_str());
    };

    Tools tools;
    tools.agent = ATTACHE_AGENT_PATH;
    tools.cli = ATTACHE_CLI_PATH;
    tools.faulttoken = ATTACHE_FAULTTOKEN_PATH;
    tools.module_helper = ATTACHE_MODULE_HELPER_PATH;
    for (const char* p :
         {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
        if (std::filesystem::exists(p)) {
            tools.softhsm = p;
            break;
        }
    }
    tools.p11kit_client = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";
    tools.agent_wrapper = o.agent_wrapper;
    tools.agent_config = o.agent_config;
    if (tools.softhsm.empty()) {
        note("SoftHSM2 is not installed (scripts/install-deps.sh installs it)");
        return 2;
    }

    Environment env(tools);
    note("making SoftHSM2 tokens and keys");
    if (auto s = env.make_tokens(o.mechs, o.isolation, o.fairness); !s) {
        note(s.error().message());
        return 2;
    }
    auto wants = [&](PathId p) {
        return std::find(o.paths.begin(), o.paths.end(), p) != o.paths.end();
    };
    // Every client process and every module finds its server through the environment.
    setenv("ATTACHE_SOCK", env.agent_socket().c_str(), 1);
    if (wants(PathId::f_p11kit)) {
        if (!std::filesystem::exists(tools.p11kit_client)) {
            r.path_absent[PathId::f_p11kit] = tools.p11kit_client + " is not installed";
        } else if (auto s = env.start_p11kit_server(); !s) {
            r.path_absent[PathId::f_p11kit] = s.error().message();
            failed = true;
        }
    }
    if (wants(PathId::d_forwarding) && std::string(ATTACHE_FORWARDING_PATH).empty())
        r.path_absent[PathId::d_forwarding] =
            "the attache_pkcs11_module target is not in this build";

    // Client processes: started now, before any server logs in, and kept for the whole run.
    WorkerPool pool;
    const bool processes =
        std::find(o.modes.begin(), o.modes.end(), Mode::processes) != o.modes.end();
    if (processes) {
        if (auto s = pool.start(*std::max_element(o.clients.begin(), o.clients.end())); !s) {
            note(s.error().message());
            return 2;
        }
    }
    // Logins, one process after the other, while nothing else uses the token (see warm_up).
    auto warm = [&](PathId p) -> Status {
        const ClientSpec spec = spec_for(p, o.mechs.front(), env);
        ATTACHE_CHECK(warm_up(spec));
        if (processes)
            ATTACHE_CHECK(pool.warm_up(spec));
        return ok();
    };
    note("logging in the client processes");
    for (PathId p : {PathId::a_direct, PathId::g_direct_helper, PathId::f_p11kit}) {
        if (!wants(p) || r.path_absent.contains(p))
            continue;
        if (auto s = warm(p); !s) {
            note("(" + std::string(1, path_letter(p)) + ") " + s.error().message());
            r.path_absent[p] = "could not log in: " + s.error().message();
            failed = true;
        }
    }
    if (wants(PathId::e_ssh_agent)) {
        if (auto s = env.start_ssh_agent(); !s) {
            r.path_absent[PathId::e_ssh_agent] = s.error().message();
            failed = true;
        }
    }
    note("starting attache-agent (" + std::to_string(o.startup_samples) + " timed starts)");
    if (auto s = env.start_agent(o.startup_samples); !s) {
        note(s.error().message());
        return 2;
    }
    r.startup_ms = env.startup_ms();
    r.idle_rss_kib = env.idle_rss_kib();
    r.idle_pss_kib = env.idle_pss_kib();
    r.idle_anon_kib = env.idle_anon_kib();
    if (wants(PathId::h_agent_helper)) {
        note("starting attache-agent with module_process = \"helper\"");
        if (auto s = env.start_helper_agent(); !s) {
            note("(h) " + s.error().message());
            r.path_absent[PathId::h_agent_helper] = s.error().message();
            failed = true;
        }
    }
    if (wants(PathId::d_forwarding) && !r.path_absent.contains(PathId::d_forwarding)) {
        if (auto s = warm(PathId::d_forwarding); !s) {
            note("(d) " + s.error().message());
            r.path_absent[PathId::d_forwarding] = "could not log in: " + s.error().message();
            failed = true;
        }
    }

    std::vector<PathId> paths;
    for (PathId p : o.paths) {
        if (!r.path_absent.contains(p))
            paths.push_back(p);
    }
    for (const auto& [p, why] : r.path_absent)
        note("path (" + std::string(1, path_letter(p)) + ") left out: " + why);
    r.paths = paths;
    auto run_cell = [&](const ClientSpec& spec, int n, Mode mode, const RunLimits& limits) {
        return mode == Mode::threads ? run_threads(spec, n, limits) : pool.run(spec, n, limits);
    };

    // Which path can do which mechanism: one checked operation each.
    const RunLimits probe{0.02, 3};
    std::vector<std::pair<PathId, Mech>> runnable;
    for (Mech m : o.mechs) {
        for (PathId p : paths) {
            CellResult c = run_threads(spec_for(p, m, env), 1, probe);
            if (c.ok) {
                runnable.push_back({p, m});
            } else if (c.unsupported) {
                r.unsupported[{p, m}] = c.error;
            } else {
                r.probe_errors[{p, m}] = c.error;
                note("(" + std::string(1, path_letter(p)) + ") " + std::string(mech_key(m)) +
                     " FAILED: " + c.error);
                failed = true;
            }
        }
    }
    env.truncate_agent_log();

    const RunLimits limits{o.seconds, o.max_ops};
    for (int rep = 1; rep <= o.reps; ++rep) {
        for (Mech m : o.mechs) {
            for (Mode mode : o.modes) {
                for (int n : o.clients) {
                    std::string line = "rep " + std::to_string(rep) + "/" + std::to_string(o.reps) +
                                       " " + std::string(mech_key(m)) + " " +
                                       std::string(mode_name(mode)) + " x" + std::to_string(n) +
                                       ":";
                    for (PathId p : paths) {
                        if (std::find(runnable.begin(), runnable.end(), std::pair{p, m}) ==
                            runnable.end())
                            continue;
                        const double pressure0 = cpu_pressure_us();
                        const int64_t t0 = monotonic_ns();
                        CellResult c = run_cell(spec_for(p, m, env), n, mode, limits);
                        const double pressure1 = cpu_pressure_us();
                        if (pressure0 >= 0 && pressure1 >= pressure0) {
                            c.cpu_wait = (pressure1 - pressure0) /
                                         (static_cast<double>(monotonic_ns() - t0) / 1e3);
                        }
                        if (!c.ok) {
                            failed = true;
                            note("(" + std::string(1, path_letter(p)) + ") " +
                                 std::string(mech_key(m)) + " FAILED: " + c.error);
                            if (is_attache(p))
                                note("agent log:\n" + env.agent_log_tail());
                        }
                        line += " " + std::string(1, path_letter(p)) + "=" +
                                (c.ok ? std::to_string(std::llround(c.ops_per_s)) : "ERR");
                        r.cells[{p, m, mode, n}].push_back(std::move(c));
                        env.truncate_agent_log();
                    }
                    note(line);
                }
            }
        }
    }

    r.peak_rss_kib = proc_status_kib(env.agent_pid(), "VmHWM");
    r.rss_after_load_kib = proc_status_kib(env.agent_pid(), "VmRSS");
    r.threads_after_load = proc_status_kib(env.agent_pid(), "Threads");
    if (env.ssh_agent_pid() > 0) {
        long rss = proc_status_kib(env.ssh_agent_pid(), "VmRSS");
        long hwm = proc_status_kib(env.ssh_agent_pid(), "VmHWM");
        for (pid_t c : children_of(env.ssh_agent_pid())) {
            rss += proc_status_kib(c, "VmRSS");
            hwm += proc_status_kib(c, "VmHWM");
        }
        r.ssh_agent_rss_kib = rss;
        r.ssh_agent_peak_kib = hwm;
    }
    if (env.p11kit_pid() > 0)
        r.p11kit_rss_kib = proc_status_kib(env.p11kit_pid(), "VmRSS");

    for (int i = 0; i < o.cli_samples; ++i) {
        const int64_t t0 = monotonic_ns();
        auto c =
            testing::run_command({tools.cli, "keys"}, {}, {{"ATTACHE_SOCK", env.agent_socket()}});
        const int64_t t1 = monotonic_ns();
        if (c.exit_code != 0) {
            note("attache keys failed: " + testing::describe(c));
            failed = true;
            break;
        }
        r.cli_keys_ms.push_back(static_cast<double>(t1 - t0) / 1e6);
    }

    if (o.isolation) {
        note("isolation: starting an agent on the fault-injecting token");
        if (auto started = env.start_isolation_agent(); !started) {
            note("isolation: " + started.error().message());
            r.isolation["native protocol"].push_back(
                {.ok = false, .error = started.error().message()});
            failed = true;
        } else {
            r.isolation_clients = 2;
            for (int rep = 1; rep <= o.isolation_reps; ++rep) {
                for (auto [kind, name] : {std::pair{Kind::native, "native protocol"},
                                          std::pair{Kind::ssh, "ssh socket"}}) {
                    IsolationSample s = isolation_sample(env, kind, limits, r.isolation_clients);
                    note("isolation rep " + std::to_string(rep) + " " + name + ": " +
                         (s.ok ? "p99 " + std::to_string(std::llround(s.base_p99_us)) + " us -> " +
                                     std::to_string(std::llround(s.hung_p99_us)) + " us"
                               : "FAILED: " + s.error));
                    failed |= !s.ok;
                    r.isolation[name].push_back(std::move(s));
                }
            }
        }
    }

    if (o.fairness) {
        note("fairness: starting an agent on a one-session card (fault token, " +
             std::to_string(o.fairness_delay_ms) + " ms per signature)");
        r.fairness_burst = o.fairness_burst;
        r.fairness_delay_ms = o.fairness_delay_ms;
        WorkerPool b_process;
        Status started = env.start_fairness_agent();
        if (started)
            started = b_process.start(1);
        if (!started) {
            note("fairness: " + started.error().message());
            r.fairness.push_back({.ok = false, .error = started.error().message()});
            failed = true;
        } else {
            for (int rep = 1; rep <= o.fairness_reps; ++rep) {
                FairnessSample s =
                    fairness_sample(env, b_process, o.fairness_burst, o.fairness_delay_ms);
                note("fairness rep " + std::to_string(rep) + ": " +
                     (s.ok ? "B waited " + std::to_string(std::llround(s.b_wait_ms)) +
                                 " ms, A's burst took " +
                                 std::to_string(std::llround(s.a_total_ms)) + " ms"
                           : "FAILED: " + s.error));
                failed |= !s.ok;
                r.fairness.push_back(std::move(s));
            }
        }
    }

    r.load_after = load_average();
    r.wall_seconds = static_cast<double>(monotonic_ns() - t_start) / 1e9;
    const std::string results = render_results(r);
    std::fputs(results.c_str(), stdout);
    std::fflush(stdout);
    if (!o.output.empty()) {
        if (write_performance_doc(o.output, results)) {
            note("wrote " + o.output);
        } else {
            note("could not write " + o.output);
            failed = true;
        }
    }
    return failed ? 1 : 0;
}

}  // namespace
}  // namespace attache::bench

int main(int argc, char** argv) {
    using namespace attache::bench;
    if (argc == 2 && std::string(argv[1]) == "--worker")
        return worker_main();
    signal(SIGPIPE, SIG_IGN);
    install_interrupt_handler();
    // The servers started here must log to their files and never think systemd runs them.
    for (const char* v :
         {"JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
          "SSH_AUTH_SOCK", "ATTACHE_SOCK", "P11_KIT_SERVER_ADDRESS", "SOFTHSM2_CONF"}) {
        unsetenv(v);
    }
    auto options = parse_options(argc, argv);
    if (!options) {
        std::fprintf(stderr, "attache-bench: %s\n", options.error().message().c_str());
        return 2;
    }
    return run(*options);
}
