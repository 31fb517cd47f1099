// attache status: the agent and each token's presence, lock state and PIN state.

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command_output.h"
#include "cli/exit_codes.h"
#include "cli/timestamp.h"
#include "cli/user/agent_access.h"
#include "cli/user/user_commands.h"

namespace attache::cli {
namespace {

std::string since(uint64_t t) {
    return time_string(static_cast<std::time_t>(t));
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
                          {"since", since(t.since)},
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

std::string status_text(const protocol::StatusReply& s) {
    std::ostringstream out;
    out << s.agent << " (pid " << s.pid << ")\n";
    out << "  socket:     " << s.socket << "\n";
    if (!s.ssh_socket.empty())
        out << "  ssh socket: " << s.ssh_socket << "\n";
    if (s.tokens.empty()) {
        out << "no card found: insert your card\n";
        return out.str();
    }
    for (const auto& t : s.tokens) {
        out << "token '" << t.label << "' (serial " << t.serial << ", " << t.manufacturer << " "
            << t.model << ")\n";
        if (!t.present) {
            out << "  absent since " << since(t.since) << "\n";
            continue;
        }
        out << "  " << (t.unlocked ? "unlocked" : "locked") << " since " << since(t.since);
        if (!t.unlocked && !t.lock_reason.empty())
            out << " (" << t.lock_reason << ")";
        out << "\n  " << pin_state_text(t.flags);
        if (t.flags & CKF_PROTECTED_AUTHENTICATION_PATH)
            out << ", PIN pad";
        out << "\n  keys: " << t.key_count << "\n  uri: " << t.uri << "\n";
    }
    return out.str();
}

}  // namespace

void add_status_command(CLI::App& app, int& exit_code) {
    auto* cmd = app.add_subcommand("status", "Show the agent and each token's lock and PIN state");
    auto json = std::make_shared<bool>(false);
    add_output_flags(*cmd, *json);
    cmd->callback([json, &exit_code] {
        run_command(*json, exit_code, [] {
            auto client = connect_agent();
            auto status = call_agent<protocol::StatusReply>(client, protocol::StatusRequest{});
            return Report{to_json(status), status_text(status)};
        });
    });
}

}  // namespace attache::cli
