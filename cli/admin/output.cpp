#include "cli/admin/output.h"

#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/admin/failure.h"

namespace attache::cli::admin {
namespace {

void print_failure(bool json, int code, const std::string& message) {
    std::cerr << "attache: " << message << std::endl;
    if (json) {
        nlohmann::json doc{{"ok", false}, {"exit_code", code}, {"error", message}};
        std::cout << doc.dump(2) << std::endl;
    }
}

}  // namespace

void run_command(bool json, int& exit_code, const std::function<Report()>& body) {
    try {
        Report report = body();
        if (json) {
            if (report.json.is_object() && !report.json.contains("ok"))
                report.json["ok"] = report.exit_code == kOk;
            std::cout << report.json.dump(2) << std::endl;
        } else if (!report.text.empty()) {
            std::cout << report.text;
            if (report.text.back() != '\n')
                std::cout << '\n';
            std::cout.flush();
        }
        exit_code = report.exit_code;
    } catch (const CommandFailure& e) {
        print_failure(json, e.exit_code(), e.what());
        exit_code = e.exit_code();
    } catch (const std::exception& e) {
        print_failure(json, kFailure, std::string("internal error: ") + e.what());
        exit_code = kFailure;
    }
}

void note(std::string_view message) {
    std::cerr << message << std::endl;
}

}  // namespace attache::cli::admin
