#pragma once

// Inventory records as JSON and as text, shared by the inventory commands, retire and
// verify-card.

#include <nlohmann/json.hpp>

#include <string>

#include "cli/admin/inventory.h"

namespace attache::cli::admin {

nlohmann::json enrolment_json(const Enrolment& e, bool with_events);
nlohmann::json card_event_json(const CardEvent& event);
// One line: "12  active  Alice Martin  serial 047e...  SoftHSM v2  2024-05-01T12:00:00Z".
std::string enrolment_line(const Enrolment& e);
// Several lines: the record, its keys and its history.
std::string enrolment_text(const Enrolment& e);

}  // namespace attache::cli::admin
