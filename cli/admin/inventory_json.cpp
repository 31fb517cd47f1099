#include "cli/admin/inventory_json.h"

namespace attache::cli::admin {
namespace {

nlohmann::json optional_json(const std::optional<std::string>& s) {
    return s ? nlohmann::json(*s) : nlohmann::json();
}

}  // namespace

nlohmann::json enrolment_json(const Enrolment& e, bool with_events) {
    nlohmann::json keys = nlohmann::json::array();
    for (const KeyRecord& k : e.keys) {
        nlohmann::json key{
            {"role", k.role},         {"key_id", k.key_id},           {"label", k.label},
            {"key_type", k.key_type}, {"spki_sha256", k.spki_sha256}, {"csr", k.csr_path},
            {"certificate", nullptr}};
        if (k.certificate) {
            key["certificate"] = {{"serial", k.certificate->serial},
                                  {"issuer", k.certificate->issuer},
                                  {"not_after", k.certificate->not_after},
                                  {"sha256", k.certificate->sha256},
                                  {"imported_at", optional_json(k.certificate_imported_at)}};
        }
        keys.push_back(std::move(key));
    }
    nlohmann::json j{{"id", e.id},
                     {"state", state_name(e.state)},
                     {"holder", e.holder},
                     {"subject", e.subject},
                     {"email", optional_json(e.email)},
                     {"token",
                      {{"serial", e.token_serial},
                       {"model", e.token_model},
                       {"manufacturer", e.token_manufacturer},
                       {"label", e.token_label}}},
                     {"enrolled_by", {{"uid", e.enrolled_by.uid}, {"name", e.enrolled_by.name}}},
                     {"created_at", e.created_at},
                     {"updated_at", e.updated_at},
                     {"keys", keys}};
    if (with_events) {
        nlohmann::json events = nlohmann::json::array();
        for (const Event& ev : e.events) {
            events.push_back({{"id", ev.id},
                              {"at", ev.at},
                              {"by", {{"uid", ev.by.uid}, {"name", ev.by.name}}},
                              {"from", optional_json(ev.from_state)},
                              {"to", ev.to_state},
                              {"reason", ev.reason}});
        }
        j["events"] = std::move(events);
        nlohmann::json card_events = nlohmann::json::array();
        for (const CardEvent& ev : e.card_events)
            card_events.push_back(card_event_json(ev));
        j["card_events"] = std::move(card_events);
    }
    return j;
}

nlohmann::json card_event_json(const CardEvent& ev) {
    return {{"id", ev.id},
            {"serial", ev.token_serial},
            {"record", ev.record ? nlohmann::json(*ev.record) : nlohmann::json()},
            {"at", ev.at},
            {"by", {{"uid", ev.by.uid}, {"name", ev.by.name}}},
            {"event", ev.event},
            {"reason", ev.reason}};
}

std::string enrolment_line(const Enrolment& e) {
    return std::to_string(e.id) + "  " + std::string(state_name(e.state)) + "  " + e.holder +
           "  serial " + e.token_serial + "  " + e.token_model + "  " + e.created_at;
}

std::string enrolment_text(const Enrolment& e) {
    std::string s = "Record " + std::to_string(e.id) + ": " + std::string(state_name(e.state)) +
                    "\n  holder   " + e.holder + "\n  subject  " + e.subject +
                    (e.email ? "\n  email    " + *e.email : std::string()) +
                    "\n  card     serial " + e.token_serial + ", model " + e.token_model +
                    ", label '" + e.token_label + "'\n  enrolled " + e.created_at + " by " +
                    e.enrolled_by.name + " (uid " + std::to_string(e.enrolled_by.uid) + ")\n";
    for (const KeyRecord& k : e.keys) {
        s += "  " + k.role + " key '" + k.label + "' " + k.key_type + ", CKA_ID " + k.key_id +
             "\n    SPKI SHA-256 " + k.spki_sha256 + "\n    request " + k.csr_path + "\n";
        if (k.certificate) {
            s += "    certificate " + k.certificate->serial + " from " + k.certificate->issuer +
                 ", valid until " + k.certificate->not_after + "\n";
        } else {
            s += "    no certificate yet\n";
        }
    }
    if (!e.events.empty()) {
        s += "  history:\n";
        for (const Event& ev : e.events) {
            s += "    " + ev.at + "  " + ev.by.name + " (uid " + std::to_string(ev.by.uid) + ")  " +
                 (ev.from_state && *ev.from_state != ev.to_state ? *ev.from_state + " -> "
                                                                 : std::string()) +
                 ev.to_state + "  " + ev.reason + "\n";
        }
    }
    if (!e.card_events.empty()) {
        s += "  card history:\n";
        for (const CardEvent& ev : e.card_events) {
            s += "    " + ev.at + "  " + ev.by.name + " (uid " + std::to_string(ev.by.uid) + ")  " +
                 ev.event + "  " + ev.reason + "\n";
        }
    }
    return s;
}

}  // namespace attache::cli::admin
