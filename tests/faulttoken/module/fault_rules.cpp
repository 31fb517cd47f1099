#include "tests/faulttoken/module/fault_rules.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/faulttoken/slot_states.h"

namespace attache::faulttoken {
namespace {

constexpr std::chrono::milliseconds kHangPollInterval{5};

bool rule_matches(const Rule& rule, Fn function, std::optional<CK_SLOT_ID> slot) {
    if (rule.function.load() != function) {
        return false;
    }
    const CK_SLOT_ID rule_slot = rule.slot_id.load();
    return rule_slot == kAnySlot || (slot && *slot == rule_slot);
}

// Whether a hang rule written with this stamp still stands.
bool still_hanging(const Rule& rule, std::uint64_t stamp) {
    return rule.kind.load(std::memory_order_acquire) == RuleKind::kHang &&
           rule.stamp.load() == stamp;
}

// Uses up one call of a fail rule; false if it has none left.
bool consume_one_call(Rule& rule) {
    std::int64_t remaining = rule.remaining.load();
    while (remaining != 0) {
        if (remaining < 0) {
            return true;
        }
        if (rule.remaining.compare_exchange_weak(remaining, remaining - 1)) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<CK_RV> wait_for_delay_rules(const ControlBlock& block, Fn function,
                                          std::optional<CK_SLOT_ID> slot) {
    for (const Rule& rule : block.rules) {
        const RuleKind kind = rule.kind.load(std::memory_order_acquire);
        if ((kind != RuleKind::kDelay && kind != RuleKind::kHang && kind != RuleKind::kCrash) ||
            !rule_matches(rule, function, slot)) {
            continue;
        }
        if (kind == RuleKind::kCrash) {
            std::abort();
        }
        if (kind == RuleKind::kDelay) {
            std::this_thread::sleep_for(std::chrono::milliseconds(rule.delay_ms.load()));
            continue;
        }
        const std::uint64_t stamp = rule.stamp.load();
        while (still_hanging(rule, stamp)) {
            if (token_absent(block, slot.value_or(kAnySlot))) {
                return CKR_DEVICE_REMOVED;
            }
            std::this_thread::sleep_for(kHangPollInterval);
        }
    }
    return std::nullopt;
}

std::optional<CK_RV> take_fail_rule(ControlBlock& block, Fn function,
                                    std::optional<CK_SLOT_ID> slot) {
    for (Rule& rule : block.rules) {
        if (rule.kind.load(std::memory_order_acquire) == RuleKind::kFail &&
            rule_matches(rule, function, slot) && consume_one_call(rule)) {
            return rule.rv.load();
        }
    }
    return std::nullopt;
}

}  // namespace attache::faulttoken
