#include "cli/command_output.h"

#include <cstring>
#include <exception>
#include <iostream>

namespace attache::cli {
namespace {

// Set by --verbose on whichever command runs (one command per process).
bool g_verbose = false;

void print_failure(bool json, const CommandFailure& failure) {
    std::cerr << "attache: " << failure.what() << std::endl;
    if (g_verbose && !failure.detail().empty())
        std::cerr << "attache: detail: " << failure.detail() << std::endl;
    if (!json)
        return;
    nlohmann::json doc = failure.extra().is_object() ? failure.extra() : nlohmann::json::object();
    doc["ok"] = false;
    doc["error"] = failure.what();
    doc["exit_code"] = failure.exit_code();
    if (g_verbose && !failure.detail().empty())
        doc["detail"] = failure.detail();
    std::cout << doc.dump(2) << std::endl;
}

void print_report(bool json, Report& report) {
    if (!json) {
        if (!report.text.empty()) {
            std::cout << report.text;
            if (report.text.back() != '\n')
                std::cout << '\n';
            std::cout.flush();
        }
        return;
    }
    if (!report.json.is_object())
        report.json = nlohmann::json{{"result", std::move(report.json)}};
    if (!report.json.contains("ok"))
        report.json["ok"] = report.exit_code == kOk;
    if (report.exit_code != kOk) {
        report.json["exit_code"] = report.exit_code;
        if (!report.json.contains("error"))
            report.json["error"] = exit_code_meaning(report.exit_code);
    }
    std::cout << report.json.dump(2) << std::endl;
}

}  // namespace

void fail(int exit_code, const std::string& message, const std::string& detail) {
    throw CommandFailure(exit_code, message, detail);
}

void add_output_flags(CLI::App& command, bool& json) {
    command.add_flag("--json", json,
                     "print the result as JSON on standard output ({\"ok\": true, ...}, or "
                     "{\"ok\": false, \"error\": ..., \"exit_code\": N})");
    command.add_flag("--verbose", g_verbose,
                     "on failure, also print what lies behind the message (PKCS#11 calls and "
                     "their CKR_ codes, the agent's own words)");
}

void run_command(bool json, int& exit_code, const std::function<Report()>& body) {
    try {
        Report report = body();
        print_report(json, report);
        exit_code = report.exit_code;
    } catch (const CommandFailure& e) {
        print_failure(json, e);
        exit_code = e.exit_code();
    } catch (const std::exception& e) {
        print_failure(json, CommandFailure(kFailure, std::string("internal error: ") + e.what()));
        exit_code = kFailure;
    }
}

void note(std::string_view message) {
    std::cerr << message << std::endl;
}

int report_usage_error(int argc, char** argv, const std::string& message) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) {
            nlohmann::json doc{{"ok", false}, {"error", message}, {"exit_code", kUsage}};
            std::cout << doc.dump(2) << std::endl;
            break;
        }
    }
    return kUsage;
}

}  // namespace attache::cli
