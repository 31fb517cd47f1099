#include "cli/admin/card_state.h"

namespace attache::cli::admin {
namespace {

constexpr struct {
    CardState state;
    std::string_view name;
} kStates[] = {
    {CardState::awaiting_certificate, "awaiting-certificate"},
    {CardState::active, "active"},
    {CardState::suspended, "suspended"},
    {CardState::lost, "lost"},
    {CardState::damaged, "damaged"},
    {CardState::retired, "retired"},
};

}  // namespace

std::string_view state_name(CardState state) {
    for (const auto& s : kStates) {
        if (s.state == state)
            return s.name;
    }
    return "unknown";
}

std::optional<CardState> state_from_name(std::string_view name) {
    for (const auto& s : kStates) {
        if (s.name == name)
            return s.state;
    }
    return std::nullopt;
}

std::vector<std::string> all_state_names() {
    std::vector<std::string> names;
    for (const auto& s : kStates)
        names.emplace_back(s.name);
    return names;
}

bool manual_transition_allowed(CardState from, CardState to, std::string& why) {
    using S = CardState;
    if (from == to) {
        why = "the record is already " + std::string(state_name(to));
        return false;
    }
    if (from == S::retired) {
        why = "a retired record is final; enrol the card again for a new record";
        return false;
    }
    switch (to) {
        case S::awaiting_certificate:
            why = "only `attache enrol` creates a record awaiting its certificates";
            return false;
        case S::active:
            if (from == S::suspended)
                return true;
            why = from == S::awaiting_certificate
                      ? "a record becomes active when `attache cert import` has stored every "
                        "certificate"
                      : "a lost or damaged card is never reinstated; retire it and enrol a new one";
            return false;
        case S::suspended:
            if (from == S::active)
                return true;
            why = "only an active card can be suspended";
            return false;
        case S::lost:
        case S::damaged:
            if (from == S::lost || from == S::damaged) {
                why = "the record is already " + std::string(state_name(from)) + "; retire it";
                return false;
            }
            return true;
        case S::retired:
            if (from == S::lost || from == S::damaged)
                return true;
            why = "a card in hand is retired with `attache retire`, which destroys its keys";
            return false;
    }
    return false;
}

}  // namespace attache::cli::admin
