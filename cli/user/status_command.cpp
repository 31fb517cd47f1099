// attache status: the agent and each token's presence, lock state and PIN state.

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"

namespace attache::cli {
namespace {

std::string local_time(uint64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

nlohmann::json to_json(const protocol::StatusReply& s) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& t : s.tokens) {
        tokens.push_back({{"uri", t.uri},
                          {"label", t.label},
                          {"serial", t.serial},
                          {"manufacturer", t.manufacturer},
                          {"model", t.model},
                          {"present", t.present},
                          {"unlocked", t.unlocked},
                          {"since", t.since},
                          {"lock_reason", t.lock_reason},
                          {"pin_count_low", (t.flags & CKF_USER_PIN_COUNT_LOW) != 0},
                          {"pin_final_try", (t.flags & CKF_USER_PIN_FINAL_TRY) != 0},
                          {"pin_locked", (t.flags & CKF_USER_PIN_LOCKED) != 0},
                          {"pin_pad", (t.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0},
                          {"keys", t.key_count}});
    }
    return {{"agent", s.agent},
            {"pid", s.pid},
            {"socket", s.socket},
            {"ssh_socket", s.ssh_socket},
            {"tokens", tokens}};
}

void print_text(const protocol::StatusReply& s) {
    std::cout << s.agent << " (pid " << s.pid << ")\n";
    std::cout << "  socket:     " << s.socket << "\n";
    if (!s.ssh_socket.empty())
        std::cout << "  ssh socket: " << s.ssh_socket << "\n";
    if (s.tokens.empty()) {
        std::cout << "no token found: insert your card\n";
        return;
    }
    for (const auto& t : s.tokens) {
        std::cout << "token '" << t.label << "' (serial " << t.serial << ", " << t.manufacturer
                  << " " << t.model << ")\n";
        if (!t.present) {
            std::cout << "  absent since " << local_time(t.since) << "\n";
            continue;
        }
        std::cout << "  " << (t.unlocked ? "unlocked" : "locked") << " since "
                  << local_time(t.since);
        if (!t.unlocked && !t.lock_reason.empty())
            std::cout << " (" << t.lock_reason << ")";
        std::cout << "\n  " << pin_state_text(t.flags);
        if (t.flags & CKF_PROTECTED_AUTHENTICATION_PATH)
            std::cout << ", PIN pad";
        std::cout << "\n  keys: " << t.key_count << "\n  uri: " << t.uri << "\n";
    }
}

}  // namespace

void add_status_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("status", "Show the agent and each token's lock and PIN state");
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json, "Print JSON");
    cmd->callback([json, &exit_code] {
        auto client = connect_agent();
        if (!client) {
            exit_code = kAgentNotRunning;
            return;
        }
        auto status =
            call_expect<protocol::StatusReply>(*client, protocol::StatusRequest{}, exit_code);
        if (!status)
            return;
        if (*json) {
            std::cout << to_json(*status).dump(2) << "\n";
        } else {
            print_text(*status);
        }
        exit_code = kOk;
    });
}

}  // namespace attache::cli
