// The helper process itself: exactly the environment it was given, not dumpable, no core
// files, no descriptor of the agent but its socket; reaped when its Module ends; clear errors
// when it cannot start; at most 16 per process.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "pkcs11/module_helper/client/function_tables.h"
#include "tests/module_helper/helper_fixture.h"
#include "tests/support/temp_dir.h"

namespace attache::p11::test {
namespace {

struct ProbeReport {
    std::vector<std::string> environment;
    std::string dumpable;
    std::string core;
    std::set<int> fds;
    std::map<std::string, int> syscall_errno;  // from C_GetInfo, after the filter
};

ProbeReport read_report(const std::string& path) {
    ProbeReport r;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("env ", 0) == 0)
            r.environment.push_back(line.substr(4));
        else if (line.rfind("dumpable ", 0) == 0)
            r.dumpable = line.substr(9);
        else if (line.rfind("core ", 0) == 0)
            r.core = line.substr(5);
        else if (line.rfind("fd ", 0) == 0)
            r.fds.insert(std::stoi(line.substr(3)));
        else if (line.rfind("syscall ", 0) == 0) {
            const auto space = line.rfind(' ');
            r.syscall_errno[line.substr(8, space - 8)] = std::stoi(line.substr(space + 1));
        }
    }
    return r;
}

HelperOptions probe_options(const std::string& report_path) {
    HelperOptions options;
    options.helper_path = ATTACHE_TEST_MODULE_HELPER;
    options.environment = {"ATTACHE_PROBE_OUTPUT=" + report_path, "LANG=C", "ONLY_THIS=1"};
    options.call_timeout = std::chrono::seconds(30);
    return options;
}

TEST(HelperProcess, EnvironmentIsExactlyTheGivenOneAndTheProcessIsHardened) {
    attache::testing::TempDir dir("attache-helper-probe");
    const std::string report_path = (dir / "report").string();
    // Something in our own environment that must not reach the helper.
    setenv("ATTACHE_AGENT_SECRET_LOOKING_THING", "x", 1);
    const HelperOptions options = probe_options(report_path);
    auto module = Module::start_helper(ATTACHE_PROBE_MODULE_PATH, options);
    unsetenv("ATTACHE_AGENT_SECRET_LOOKING_THING");
    ASSERT_TRUE(module) << module.error().message();

    const ProbeReport report = read_report(report_path);
    std::vector<std::string> expected = options.environment;
    std::vector<std::string> got = report.environment;
    std::sort(expected.begin(), expected.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected);
    EXPECT_EQ(report.dumpable, "0");
    EXPECT_EQ(report.core, "0");
    EXPECT_EQ(report.fds, (std::set<int>{0, 1, 2, 3})) << "stdio and the agent's socket only";
}

// The seccomp filter is in place once the module is initialised: what reaches other processes
// or starts programs fails with EPERM; ordinary calls work. Without the filter execve fails
// with ENOENT, process_vm_readv on the helper itself and unshare(0) succeed.
TEST(HelperProcess, ModuleCallsRunUnderTheSeccompFilter) {
    attache::testing::TempDir dir("attache-helper-probe");
    const std::string report_path = (dir / "report").string();
    auto module = Module::start_helper(ATTACHE_PROBE_MODULE_PATH, probe_options(report_path));
    ASSERT_TRUE(module) << module.error().message();
    ASSERT_TRUE(module->info());
    const ProbeReport report = read_report(report_path);
    EXPECT_EQ(report.syscall_errno.at("execve"), EPERM);
    EXPECT_EQ(report.syscall_errno.at("process_vm_readv"), EPERM);
    EXPECT_EQ(report.syscall_errno.at("unshare"), EPERM);
    EXPECT_EQ(report.syscall_errno.at("getpid"), 0);
}

TEST(HelperProcess, EndingTheModuleReapsTheHelper) {
    attache::testing::TempDir dir("attache-helper-probe");
    auto module =
        Module::start_helper(ATTACHE_PROBE_MODULE_PATH, probe_options((dir / "r").string()));
    ASSERT_TRUE(module) << module.error().message();
    const pid_t pid = module->helper_pid();
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(module->info());
    module = Error("ended");
    // Reaped: no such child is left to wait for.
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST(HelperProcess, ModuleThatCannotLoadFailsClearly) {
    HelperOptions options = probe_options("/dev/null");
    auto module = Module::start_helper("/nonexistent/attache-no-module.so", options);
    ASSERT_FALSE(module);
    EXPECT_NE(module.error().message().find("dlopen"), std::string::npos)
        << module.error().message();
    EXPECT_NE(module.error().message().find("/nonexistent/attache-no-module.so"),
              std::string::npos);
}

TEST(HelperProcess, MissingHelperExecutableFailsClearly) {
    HelperOptions options = probe_options("/dev/null");
    options.helper_path = "/nonexistent/attache-module-helper";
    auto module = Module::start_helper(ATTACHE_PROBE_MODULE_PATH, options);
    ASSERT_FALSE(module);
    EXPECT_NE(module.error().message().find("/nonexistent/attache-module-helper"),
              std::string::npos)
        << module.error().message();
}

TEST(HelperProcess, SeventeenthHelperIsRefused) {
    attache::testing::TempDir dir("attache-helper-probe");
    std::vector<Module> modules;
    for (size_t i = 0; i < module_helper::kMaxHelpers; ++i) {
        auto m =
            Module::start_helper(ATTACHE_PROBE_MODULE_PATH, probe_options((dir / "r").string()));
        ASSERT_TRUE(m) << i << ": " << m.error().message();
        modules.push_back(std::move(*m));
    }
    auto extra =
        Module::start_helper(ATTACHE_PROBE_MODULE_PATH, probe_options((dir / "r").string()));
    ASSERT_FALSE(extra);
    EXPECT_NE(extra.error().message().find("16 module helpers"), std::string::npos)
        << extra.error().message();
    for (const Module& m : modules)
        EXPECT_TRUE(m.info()) << "the others still answer";
    modules.pop_back();
    auto again =
        Module::start_helper(ATTACHE_PROBE_MODULE_PATH, probe_options((dir / "r").string()));
    EXPECT_TRUE(again) << "a freed table is used again";
}

TEST(HelperProcess, DefaultHelperPathFindsTheInstalledNameOrTheOneBesideTheExecutable) {
    const std::string path = Module::default_helper_path();
    EXPECT_NE(path.find("attache-module-helper"), std::string::npos);
}

}  // namespace
}  // namespace attache::p11::test
