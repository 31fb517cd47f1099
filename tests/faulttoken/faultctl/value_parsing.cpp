#include "tests/faulttoken/faultctl/value_parsing.h"

#include <charconv>

#include "tests/faulttoken/control_block.h"

namespace attache::faulttoken {
namespace {

struct NamedFlag {
    std::string_view name;
    CK_FLAGS flag;
};

constexpr NamedFlag kTokenFlags[] = {
    {"CKF_USER_PIN_COUNT_LOW", CKF_USER_PIN_COUNT_LOW},
    {"CKF_USER_PIN_FINAL_TRY", CKF_USER_PIN_FINAL_TRY},
    {"CKF_USER_PIN_LOCKED", CKF_USER_PIN_LOCKED},
    {"CKF_USER_PIN_TO_BE_CHANGED", CKF_USER_PIN_TO_BE_CHANGED},
    {"CKF_SO_PIN_COUNT_LOW", CKF_SO_PIN_COUNT_LOW},
    {"CKF_SO_PIN_FINAL_TRY", CKF_SO_PIN_FINAL_TRY},
    {"CKF_SO_PIN_LOCKED", CKF_SO_PIN_LOCKED},
    {"CKF_SO_PIN_TO_BE_CHANGED", CKF_SO_PIN_TO_BE_CHANGED},
    {"CKF_PROTECTED_AUTHENTICATION_PATH", CKF_PROTECTED_AUTHENTICATION_PATH},
    {"CKF_LOGIN_REQUIRED", CKF_LOGIN_REQUIRED},
    {"CKF_WRITE_PROTECTED", CKF_WRITE_PROTECTED},
};

template <typename Number>
std::optional<Number> parse_number(std::string_view text, int base) {
    Number value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        return parse_number<std::uint64_t>(text.substr(2), 16);
    }
    return parse_number<std::uint64_t>(text, 10);
}

std::optional<std::int64_t> parse_signed(std::string_view text) {
    return parse_number<std::int64_t>(text, 10);
}

std::optional<CK_SLOT_ID> parse_slot(std::string_view text) {
    if (text == "all" || text == "any") {
        return kAnySlot;
    }
    return parse_unsigned(text);
}

std::optional<CK_FLAGS> parse_token_flag(std::string_view text) {
    for (const NamedFlag& named : kTokenFlags) {
        if (named.name == text) {
            return named.flag;
        }
    }
    return parse_unsigned(text);
}

}  // namespace attache::faulttoken
