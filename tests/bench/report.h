#pragma once

// The benchmark's results: every repetition of every cell, the footprint and isolation
// measurements, the machine; medians across repetitions, the targets of issue 8, and the
// Markdown that goes to the terminal and to docs/performance.md.

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tests/bench/runner.h"
#include "tests/bench/spec.h"

namespace attache::bench {

// The letters follow the enum; the tables follow kAllPaths, which puts each helper path (g, h)
// beside its in-process counterpart (a, b).
enum class PathId {
    a_direct,
    b_native,
    c_ssh,
    d_forwarding,
    e_ssh_agent,
    f_p11kit,
    g_direct_helper,  // (a)'s client code, SoftHSM2 started with p11::Module::start_helper
    h_agent_helper,   // (b) on an agent with module_process = "helper"
};
inline constexpr PathId kAllPaths[] = {
    PathId::a_direct, PathId::g_direct_helper, PathId::b_native,    PathId::h_agent_helper,
    PathId::c_ssh,    PathId::d_forwarding,    PathId::e_ssh_agent, PathId::f_p11kit};

char path_letter(PathId p);            // 'a' ... 'h'
std::string_view path_name(PathId p);  // "direct PKCS#11 (SoftHSM2)", ...
std::optional<PathId> path_from_letter(char c);
bool is_attache(PathId p);  // b, c, d, h

struct CellKey {
    PathId path;
    Mech mech;
    Mode mode;
    int clients;
    auto operator<=>(const CellKey&) const = default;
};

// Medians of one cell across its repetitions.
struct CellMedian {
    bool ok = false;
    std::string error;  // the first failure, when not ok
    int reps = 0;
    double ops_per_s = 0;
    double p50_us = 0;
    double p99_us = 0;
    double cpu_wait = -1;       // median share of time some task waited for a CPU
    double cpu_us_per_op = -1;  // median machine CPU per operation (CellResult)
};

struct IsolationSample {
    double base_p50_us = 0, base_p99_us = 0, base_ops = 0;
    double hung_p50_us = 0, hung_p99_us = 0, hung_ops = 0;
    int hung_requests = 0;  // requests stuck on the hung token while measuring
    bool ok = false;
    std::string error;
};

// One repetition of the fairness measurement (tests/bench/fairness.h).
struct FairnessSample {
    bool ok = false;
    std::string error;
    double b_wait_ms = 0;    // B's one request, sent to answered (its own card operation included)
    double b_offset_ms = 0;  // when B sent it, after A's burst was sent
    double a_total_ms = 0;   // A's burst, sent to its last answer
    int a_during_b = 0;      // A's requests answered while B waited
};

struct Report {
    // How the run was made.
    std::string title = "full run";
    double seconds = 0;
    int reps = 0;
    std::vector<int> clients;
    std::vector<Mode> modes;
    std::vector<Mech> mechs;
    std::vector<PathId> paths;
    // Why a path was left out (not built, not installed) or cannot do a mechanism.
    std::map<PathId, std::string> path_absent;
    std::map<std::pair<PathId, Mech>, std::string> unsupported;
    std::map<std::pair<PathId, Mech>, std::string> probe_errors;

    std::map<CellKey, std::vector<CellResult>> cells;

    // Footprint.
    std::vector<double> startup_ms;
    long idle_rss_kib = -1;
    long idle_pss_kib = -1;        // shared library pages divided among the processes mapping them
    long idle_anon_kib = -1;       // the agent's own memory (heap, stacks, library data)
    long peak_rss_kib = -1;        // VmHWM after the whole run (its heaviest load: 8 clients)
    long rss_after_load_kib = -1;  // VmRSS after the run
    long threads_after_load = -1;  // the agent's threads after the run (one per connection)
    std::vector<double> cli_keys_ms;
    long ssh_agent_rss_kib = -1;  // ssh-agent + ssh-pkcs11-helper, after the run
    long ssh_agent_peak_kib = -1;
    long p11kit_rss_kib = -1;  // p11-kit server (its per-connection children have exited)

    // Isolation, per path ("native protocol", "ssh socket").
    std::map<std::string, std::vector<IsolationSample>> isolation;
    int isolation_clients = 2;

    // Fairness on a one-session card: the burst of client A, the card's delay per signature.
    std::vector<FairnessSample> fairness;
    int fairness_burst = 0;
    int fairness_delay_ms = 0;

    // Machine and versions: (name, value) in order.
    std::vector<std::pair<std::string, std::string>> machine;
    std::vector<std::pair<std::string, std::string>> versions;
    std::string date;
    std::string load_before, load_after;
    double wall_seconds = 0;

    CellMedian median(const CellKey& key) const;
};

struct Target {
    std::string name;
    std::optional<bool> met;  // nullopt: not measured in this run
    std::string detail;
};
std::vector<Target> evaluate_targets(const Report& r);

double median_of(std::vector<double> v);

// The whole results section (Markdown, no document title).
std::string render_results(const Report& r);

// Writes the results into `path` between the markers, keeping the text around them; a new
// file gets a short introduction.
bool write_performance_doc(const std::string& path, const std::string& results);

}  // namespace attache::bench
