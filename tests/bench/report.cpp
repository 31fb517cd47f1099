#include "tests/bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace attache::bench {
namespace {

constexpr const char* kBegin = "<!-- attache-bench: results begin -->";
constexpr const char* kEnd = "<!-- attache-bench: results end -->";

// v with `decimals` digits after the point.
std::string fixed(double v, int decimals) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(decimals);
    o << v;
    return o.str();
}

// 1.5 -> "1.5", 2 -> "2"
std::string shortest(double v) {
    std::ostringstream o;
    o << v;
    return o.str();
}

// 13400 -> "13,400"
std::string thousands(double v) {
    long long n = std::llround(v);
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string micros(double us) {
    return us >= 100 ? thousands(us) : fixed(us, 1);
}

std::string ratio(double v) {
    return fixed(v, 2);
}

std::string mib(long kib) {
    return kib < 0 ? "n/a" : fixed(static_cast<double>(kib) / 1024.0, 1) + " MiB";
}

std::string clients_word(int n) {
    return std::to_string(n) + (n == 1 ? " client" : " clients");
}

std::string min_median_max(std::vector<double> v, int decimals) {
    if (v.empty())
        return "";
    std::sort(v.begin(), v.end());
    return fixed(v.front(), decimals) + " / " + fixed(median_of(v), decimals) + " / " +
           fixed(v.back(), decimals);
}

std::string render_fairness(const Report& r) {
    std::ostringstream o;
    const double card = std::max(r.fairness_delay_ms, 1);
    o << "### Fairness on a one-session card\n\n"
      << "One agent, one token behind the fault-injecting module delaying every `C_Sign` by "
      << r.fairness_delay_ms
      << " ms (a real card's 70 to 150 ms), `workers_per_token = 1` (one session: a smartcard). "
         "Client A, one process, sends a burst of "
      << r.fairness_burst
      << " EC P-256 sign requests at one instant, one connection each; client B, another "
         "process, sends one request just after. B's time to answer runs from sending to its "
         "answer, its own card operation included; its wait before its own operation is that "
         "time less one card operation; card operations are times divided by "
      << r.fairness_delay_ms << " ms. " << r.fairness.size() << " repetition"
      << (r.fairness.size() == 1 ? "" : "s") << ".\n\n";
    std::vector<double> wait, ops, before, offset, total, during;
    std::string error;
    for (const auto& s : r.fairness) {
        if (!s.ok) {
            error = s.error;
            continue;
        }
        wait.push_back(s.b_wait_ms);
        ops.push_back(s.b_wait_ms / card);
        before.push_back((s.b_wait_ms - card) / card);
        offset.push_back(s.b_offset_ms);
        total.push_back(s.a_total_ms);
        during.push_back(s.a_during_b);
    }
    o << "| | min / median / max |\n|---|---|\n";
    if (wait.empty()) {
        o << "| failed | " << error << " |\n\n";
        return o.str();
    }
    o << "| B's time to answer, ms | " << min_median_max(wait, 0) << " |\n"
      << "| B's time to answer, card operations | " << min_median_max(ops, 2) << " |\n"
      << "| B's wait before its own operation, card operations | " << min_median_max(before, 2)
      << " |\n"
      << "| A's requests answered while B waited | " << min_median_max(during, 0) << " |\n"
      << "| B sent after A's burst, ms | " << min_median_max(offset, 1) << " |\n"
      << "| A's whole burst, ms | " << min_median_max(total, 0) << " (" << r.fairness_burst + 1
      << " card operations: " << fixed((r.fairness_burst + 1) * card, 0) << " ms) |\n";
    if (!error.empty())
        o << "| failed repetitions | " << error << " |\n";
    o << "\n";
    return o.str();
}

}  // namespace

char path_letter(PathId p) {
    return static_cast<char>('a' + static_cast<int>(p));
}

std::string_view path_name(PathId p) {
    switch (p) {
        case PathId::a_direct:
            return "direct PKCS#11 (SoftHSM2 in the client)";
        case PathId::b_native:
            return "Attache native protocol";
        case PathId::c_ssh:
            return "Attache ssh socket";
        case PathId::d_forwarding:
            return "attache-pkcs11.so";
        case PathId::e_ssh_agent:
            return "OpenSSH ssh-agent (ssh-add -s)";
        case PathId::f_p11kit:
            return "p11-kit server + p11-kit-client.so";
        case PathId::g_direct_helper:
            return "direct PKCS#11 through a module helper";
        case PathId::h_agent_helper:
            return "Attache native protocol, helper backend";
    }
    return "?";
}

std::optional<PathId> path_from_letter(char c) {
    if (c < 'a' || c > 'h')
        return std::nullopt;
    return static_cast<PathId>(c - 'a');
}

bool is_attache(PathId p) {
    return p == PathId::b_native || p == PathId::c_ssh || p == PathId::d_forwarding ||
           p == PathId::h_agent_helper;
}

double median_of(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

CellMedian Report::median(const CellKey& key) const {
    CellMedian m;
    auto it = cells.find(key);
    if (it == cells.end())
        return m;
    std::vector<double> ops, p50, p99, wait, cpu;
    for (const auto& c : it->second) {
        if (c.cpu_wait >= 0)
            wait.push_back(c.cpu_wait);
        if (!c.ok) {
            if (m.error.empty())
                m.error = c.error.empty() ? "failed" : c.error;
            continue;
        }
        ops.push_back(c.ops_per_s);
        p50.push_back(c.p50_us);
        p99.push_back(c.p99_us);
        if (c.cpu_us_per_op >= 0)
            cpu.push_back(c.cpu_us_per_op);
    }
    m.reps = static_cast<int>(ops.size());
    // A cell with any failed repetition is a failure: errors must not hide behind a median.
    m.ok = m.error.empty() && m.reps > 0;
    m.ops_per_s = median_of(ops);
    m.p50_us = median_of(p50);
    m.p99_us = median_of(p99);
    m.cpu_wait = wait.empty() ? -1 : median_of(wait);
    m.cpu_us_per_op = cpu.empty() ? -1 : median_of(cpu);
    return m;
}

std::vector<Target> evaluate_targets(const Report& r) {
    std::vector<Target> out;
    auto get = [&](PathId p, Mech m, Mode mode, int clients) -> std::optional<CellMedian> {
        CellMedian c = r.median({p, m, mode, clients});
        if (!c.ok)
            return std::nullopt;
        return c;
    };
    // "X of Y" comparisons in every mode measured.
    auto versus = [&](const std::string& name, PathId p, PathId base, Mech m, int clients,
                      double needed) {
        Target t{name, std::nullopt, ""};
        for (Mode mode : r.modes) {
            auto x = get(p, m, mode, clients);
            auto y = get(base, m, mode, clients);
            if (!x || !y || y->ops_per_s <= 0)
                continue;
            const double q = x->ops_per_s / y->ops_per_s;
            const bool met = q >= needed;
            t.met = t.met.value_or(true) && met;
            if (!t.detail.empty())
                t.detail += "; ";
            t.detail += std::string(mode_name(mode)) + ": " + ratio(q) + " (" +
                        thousands(x->ops_per_s) + " vs " + thousands(y->ops_per_s) + " ops/s)";
        }
        if (!t.met)
            t.detail = "not measured in this run";
        out.push_back(t);
    };
    // "never below" over every cell both paths have.
    auto never_below = [&](const std::string& name, PathId p, PathId base) {
        Target t{name, std::nullopt, ""};
        int cells = 0;
        std::string worst;
        double worst_q = 1e9;
        for (Mech m : r.mechs) {
            for (Mode mode : r.modes) {
                for (int n : r.clients) {
                    auto x = get(p, m, mode, n);
                    auto y = get(base, m, mode, n);
                    if (!x || !y || y->ops_per_s <= 0)
                        continue;
                    ++cells;
                    const double q = x->ops_per_s / y->ops_per_s;
                    if (q < worst_q) {
                        worst_q = q;
                        worst = std::string(mech_key(m)) + ", " + std::string(mode_name(mode)) +
                                ", " + clients_word(n) + ": " + ratio(q) + " (" +
                                thousands(x->ops_per_s) + " vs " + thousands(y->ops_per_s) + ")";
                    }
                }
            }
        }
        if (cells == 0) {
            t.detail = "not measured in this run";
        } else {
            t.met = worst_q >= 1.0;
            t.detail = std::to_string(cells) + " cells; lowest ratio " + worst;
        }
        out.push_back(t);
    };
    versus("Native protocol, 1 client, EC P-256: >= 0.85 of direct", PathId::b_native,
           PathId::a_direct, Mech::ec_p256, 1, 0.85);
    versus("Native protocol, 1 client, RSA-2048: >= 0.95 of direct", PathId::b_native,
           PathId::a_direct, Mech::rsa2048, 1, 0.95);
    versus(
        "RSA-2048, 2 clients: Attache (native protocol) >= 0.9 of direct's 2-client "
        "throughput",
        PathId::b_native, PathId::a_direct, Mech::rsa2048, 2, 0.9);
    versus("ssh socket, 1 client, EC P-256: >= 4x OpenSSH ssh-agent", PathId::c_ssh,
           PathId::e_ssh_agent, Mech::ec_p256, 1, 4.0);
    never_below("ssh socket never below ssh-agent", PathId::c_ssh, PathId::e_ssh_agent);
    versus("attache-pkcs11.so, 1 client, EC P-256: >= 3x p11-kit-client", PathId::d_forwarding,
           PathId::f_p11kit, Mech::ec_p256, 1, 3.0);
    never_below("attache-pkcs11.so never below p11-kit-client", PathId::d_forwarding,
                PathId::f_p11kit);
    versus("Agent, helper backend, 1 client, EC P-256: >= 0.85 of direct (issue 17)",
           PathId::h_agent_helper, PathId::a_direct, Mech::ec_p256, 1, 0.85);
    versus(
        "Agent, helper backend, 2 clients, EC P-256: >= 0.9 of direct (issue 17, with a helper "
        "pool; processes are what counts)",
        PathId::h_agent_helper, PathId::a_direct, Mech::ec_p256, 2, 0.9);
    if (!r.fairness.empty()) {
        Target t{"Fairness: a request behind another client's burst of " +
                     std::to_string(r.fairness_burst) +
                     " on a one-session card waits at most about two card operations before "
                     "its own (median <= 2.25)",
                 std::nullopt, ""};
        std::vector<double> waits;
        for (const auto& s : r.fairness) {
            if (s.ok)
                waits.push_back(s.b_wait_ms);
        }
        if (waits.empty()) {
            t.met = false;
            t.detail = "failed: " + r.fairness.front().error;
        } else {
            const double card = std::max(r.fairness_delay_ms, 1);
            const double before = (median_of(waits) - card) / card;
            t.met = before <= 2.25;
            t.detail = "answered after " + fixed(median_of(waits), 0) + " ms (median), " +
                       fixed(before, 2) + " card operations of " +
                       std::to_string(r.fairness_delay_ms) + " ms before its own";
        }
        out.push_back(t);
    }
    {
        Target t{"Agent idle RSS <= 8 MiB", std::nullopt, ""};
        if (r.idle_rss_kib >= 0) {
            t.met = r.idle_rss_kib <= 8 * 1024;
            t.detail = mib(r.idle_rss_kib);
        } else {
            t.detail = "not measured in this run";
        }
        out.push_back(t);
    }
    for (const auto& [path, samples] : r.isolation) {
        Target t{"Isolation (" + path +
                     "): token B's p99 with token A hung <= 2x its p99 with "
                     "nothing hung",
                 std::nullopt, ""};
        std::vector<double> base, hung;
        for (const auto& s : samples) {
            if (!s.ok)
                continue;
            base.push_back(s.base_p99_us);
            hung.push_back(s.hung_p99_us);
        }
        if (base.empty()) {
            t.detail = samples.empty() || samples.front().error.empty()
                           ? "not measured"
                           : "failed: " + samples.front().error;
            t.met = samples.empty() ? std::nullopt : std::optional<bool>(false);
        } else {
            const double b = median_of(base), h = median_of(hung);
            t.met = h <= 2 * b;
            t.detail = "p99 " + micros(b) + " µs nothing hung, " + micros(h) +
                       " µs with A hung: " + ratio(h / b) + "x";
        }
        out.push_back(t);
    }
    return out;
}

std::string render_results(const Report& r) {
    std::ostringstream o;
    o << "## Results (" << r.title << ", " << r.date << ")\n\n";
    std::string modes, clients;
    for (Mode m : r.modes)
        modes += (modes.empty() ? "" : " and ") + std::string(mode_name(m));
    for (int n : r.clients)
        clients += (clients.empty() ? "" : ", ") + std::to_string(n);
    o << "Each cell: " << r.reps << " repetition" << (r.reps == 1 ? "" : "s") << " of "
      << shortest(r.seconds) << " s, clients " << clients << " as " << modes
      << "; the numbers are medians across repetitions; paths interleaved within each "
         "repetition. Load average before the run: "
      << r.load_before << "; after: " << r.load_after << ". Whole run: " << fixed(r.wall_seconds, 0)
      << " s.";
    {
        // Other work on the machine: CPU pressure during the cells with one client, where the
        // benchmark itself keeps at most two tasks busy on two cores on most paths (the helper
        // paths' polling keeps three; the median over all paths is the others').
        std::vector<double> waits;
        for (const auto& [key, reps] : r.cells) {
            if (key.clients != 1)
                continue;
            for (const auto& c : reps) {
                if (c.cpu_wait >= 0)
                    waits.push_back(c.cpu_wait);
            }
        }
        if (!waits.empty()) {
            const double w = median_of(waits);
            o << " In the 1-client cells some task waited for a CPU " << fixed(100 * w, 0)
              << " % of the time (median; /proc/pressure/cpu): "
              << (w > 0.05 ? "**other work was running, and every number below carries its "
                             "noise**."
                           : "the machine was quiet.");
        }
    }
    o << "\n\n";

    o << "### Machine and versions\n\n| | |\n|---|---|\n";
    for (const auto& [k, v] : r.machine)
        o << "| " << k << " | " << v << " |\n";
    for (const auto& [k, v] : r.versions)
        o << "| " << k << " | " << v << " |\n";
    o << "\n";

    o << "### Targets\n\n| target | result | numbers |\n|---|---|---|\n";
    for (const auto& t : evaluate_targets(r)) {
        o << "| " << t.name << " | " << (t.met ? (*t.met ? "met" : "**missed**") : "not measured")
          << " | " << t.detail << " |\n";
    }
    o << "\n";

    // Summary: operations per second and the ratio to direct, 1 and 2 clients.
    const Mode summary_mode =
        std::find(r.modes.begin(), r.modes.end(), Mode::processes) != r.modes.end()
            ? Mode::processes
            : (r.modes.empty() ? Mode::threads : r.modes.front());
    o << "### Summary: operations per second (ratio to direct), clients as "
      << mode_name(summary_mode) << "\n\n| mechanism | clients |";
    for (PathId p : r.paths)
        o << " (" << path_letter(p) << ") " << path_name(p) << " |";
    o << "\n|---|---|";
    for (size_t i = 0; i < r.paths.size(); ++i)
        o << "---|";
    o << "\n";
    for (Mech m : r.mechs) {
        for (int n : r.clients) {
            if (n > 2 && r.clients.size() > 2)
                continue;
            o << "| " << mech_title(m) << " | " << n << " |";
            const CellMedian direct = r.median({PathId::a_direct, m, summary_mode, n});
            for (PathId p : r.paths) {
                const CellMedian c = r.median({p, m, summary_mode, n});
                if (c.ok) {
                    o << " " << thousands(c.ops_per_s);
                    if (direct.ok && direct.ops_per_s > 0)
                        o << " (" << ratio(c.ops_per_s / direct.ops_per_s) << ")";
                    o << " |";
                } else if (r.unsupported.contains({p, m})) {
                    o << " not supported |";
                } else if (r.path_absent.contains(p)) {
                    o << " absent |";
                } else {
                    o << " " << (c.error.empty() ? "—" : "error") << " |";
                }
            }
            o << "\n";
        }
    }
    o << "\n";

    o << "### Footprint and start\n\n";
    o << "| what | attache-agent | for comparison |\n|---|---|---|\n";
    o << "| RSS idle (started, unlocked, keys listed) | " << mib(r.idle_rss_kib)
      << " | ssh-agent + ssh-pkcs11-helper after the run: " << mib(r.ssh_agent_rss_kib) << " (peak "
      << mib(r.ssh_agent_peak_kib) << "); p11-kit server idle: " << mib(r.p11kit_rss_kib)
      << " plus one process per connection |\n";
    o << "| idle PSS / anonymous memory | " << mib(r.idle_pss_kib) << " / " << mib(r.idle_anon_kib)
      << " | the rest of the RSS is library pages (libcrypto, libstdc++, libc, the PKCS#11 "
         "module), shared with other processes |\n";
    o << "| peak RSS (VmHWM) over the run, heaviest load "
      << clients_word(r.clients.empty() ? 0 : r.clients.back()) << " | " << mib(r.peak_rss_kib)
      << " | |\n";
    o << "| RSS after the run | " << mib(r.rss_after_load_kib) << " | the agent then has "
      << r.threads_after_load << " threads |\n";
    if (!r.startup_ms.empty()) {
        auto s = r.startup_ms;
        std::sort(s.begin(), s.end());
        o << "| start to first served `list keys` (median of " << s.size() << ") | "
          << fixed(median_of(s), 1) + " ms"
          << " (" << fixed(s.front(), 1) << " to " << fixed(s.back(), 1) << ") | |\n";
    }
    if (!r.cli_keys_ms.empty()) {
        auto s = r.cli_keys_ms;
        std::sort(s.begin(), s.end());
        o << "| `attache keys` wall time (median of " << s.size() << ") | "
          << fixed(median_of(s), 1) + " ms"
          << " (" << fixed(s.front(), 1) << " to " << fixed(s.back(), 1) << ") | |\n";
    }
    o << "\n";

    if (!r.isolation.empty()) {
        o << "### Isolation: a hung card must not delay another card\n\n"
          << "Two tokens behind the fault-injecting module, one agent. Token B is measured "
             "with "
          << clients_word(r.isolation_clients)
          << " (threads, EC P-256), first with nothing hung, then while token A's `C_Sign` "
             "hangs with requests stuck on it. Medians across repetitions.\n\n"
          << "| path | requests stuck on A | B ops/s, nothing hung | B ops/s, A hung | B p50 / "
             "p99 µs, nothing hung | B p50 / p99 µs, A hung | p99 ratio |\n"
          << "|---|---|---|---|---|---|---|\n";
        for (const auto& [path, samples] : r.isolation) {
            std::vector<double> bo, ho, b50, b99, h50, h99;
            int stuck = 0;
            std::string error;
            for (const auto& s : samples) {
                if (!s.ok) {
                    error = s.error;
                    continue;
                }
                bo.push_back(s.base_ops);
                ho.push_back(s.hung_ops);
                b50.push_back(s.base_p50_us);
                b99.push_back(s.base_p99_us);
                h50.push_back(s.hung_p50_us);
                h99.push_back(s.hung_p99_us);
                stuck = s.hung_requests;
            }
            if (bo.empty()) {
                o << "| " << path << " | failed: " << error << " | | | | | |\n";
                continue;
            }
            o << "| " << path << " | " << stuck << " | " << thousands(median_of(bo)) << " | "
              << thousands(median_of(ho)) << " | " << micros(median_of(b50)) << " / "
              << micros(median_of(b99)) << " | " << micros(median_of(h50)) << " / "
              << micros(median_of(h99)) << " | "
              << ratio(median_of(h99) / std::max(median_of(b99), 1e-9)) << " |\n";
        }
        o << "\n";
    }

    if (!r.fairness.empty())
        o << render_fairness(r);

    if (!r.path_absent.empty() || !r.unsupported.empty() || !r.probe_errors.empty()) {
        o << "### Left out\n\n";
        for (const auto& [p, why] : r.path_absent)
            o << "- (" << path_letter(p) << ") " << path_name(p) << ": " << why << "\n";
        for (const auto& [pm, why] : r.unsupported) {
            o << "- (" << path_letter(pm.first) << ") " << path_name(pm.first) << ", "
              << mech_title(pm.second) << ": not supported (" << why << ")\n";
        }
        for (const auto& [pm, why] : r.probe_errors) {
            o << "- (" << path_letter(pm.first) << ") " << path_name(pm.first) << ", "
              << mech_title(pm.second) << ": **failed**: " << why << "\n";
        }
        o << "\n";
    }

    for (Mech m : r.mechs) {
        o << "### " << mech_title(m) << "\n\n"
          << "| mode | clients | path | ops/s | p50 µs | p99 µs | ratio to (a) | Attache ÷ "
             "ssh-agent (e) | Attache ÷ p11-kit (f) | CPU µs/op | CPU wait |\n"
          << "|---|---|---|---|---|---|---|---|---|---|---|\n";
        for (Mode mode : r.modes) {
            for (int n : r.clients) {
                const CellMedian a = r.median({PathId::a_direct, m, mode, n});
                const CellMedian e = r.median({PathId::e_ssh_agent, m, mode, n});
                const CellMedian f = r.median({PathId::f_p11kit, m, mode, n});
                for (PathId p : r.paths) {
                    if (!r.cells.contains({p, m, mode, n}))
                        continue;
                    const CellMedian c = r.median({p, m, mode, n});
                    o << "| " << mode_name(mode) << " | " << n << " | (" << path_letter(p) << ") "
                      << path_name(p) << " | ";
                    if (!c.ok) {
                        o << "error: " << c.error << " | | | | | | | |\n";
                        continue;
                    }
                    o << thousands(c.ops_per_s) << " | " << micros(c.p50_us) << " | "
                      << micros(c.p99_us) << " | "
                      << (a.ok && a.ops_per_s > 0 ? ratio(c.ops_per_s / a.ops_per_s) : "") << " | "
                      << (is_attache(p) && e.ok && e.ops_per_s > 0
                              ? ratio(c.ops_per_s / e.ops_per_s)
                              : "")
                      << " | "
                      << (is_attache(p) && f.ok && f.ops_per_s > 0
                              ? ratio(c.ops_per_s / f.ops_per_s)
                              : "")
                      << " | " << (c.cpu_us_per_op >= 0 ? micros(c.cpu_us_per_op) : "") << " | "
                      << (c.cpu_wait >= 0 ? fixed(100 * c.cpu_wait, 0) + " %" : "") << " |\n";
                }
            }
        }
        o << "\n";
    }
    return o.str();
}

bool write_performance_doc(const std::string& path, const std::string& results) {
    std::string text;
    {
        std::ifstream in(path, std::ios::binary);
        if (in) {
            std::ostringstream ss;
            ss << in.rdbuf();
            text = ss.str();
        }
    }
    const std::string block = std::string(kBegin) + "\n" + results + kEnd;
    const size_t begin = text.find(kBegin);
    const size_t end = text.find(kEnd);
    if (begin != std::string::npos && end != std::string::npos && end > begin) {
        text.replace(begin, end + std::string(kEnd).size() - begin, block);
    } else {
        text = "# Performance\n\nWritten by `scripts/bench.sh` (tests/bench/).\n\n" + block + "\n";
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out)
            return false;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    return !ec;
}

}  // namespace attache::bench
