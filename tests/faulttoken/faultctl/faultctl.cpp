#include "tests/faulttoken/faultctl/faultctl.h"

#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/faulttoken/fault_control.h"
#include "tests/faulttoken/faultctl/value_parsing.h"
#include "tests/faulttoken/function_ids.h"
#include "tests/faulttoken/rv_names.h"

namespace attache::faulttoken {
namespace {

constexpr std::string_view kUsage =
    "usage: attache-faultctl FILE COMMAND [ARGS]\n"
    "  init                                 create or reset the control file\n"
    "  absent SLOT|all                      unplug the slot's token (all: every token)\n"
    "  present SLOT|all                     plug it back in\n"
    "  fail FUNC RV [--slot S] [--count N]  make FUNC return RV (CKR_ name or number)\n"
    "  delay FUNC MS [--slot S]             make FUNC sleep MS milliseconds first\n"
    "  hang FUNC [--slot S]                 make FUNC block until 'clear'\n"
    "  crash FUNC [--slot S]                make FUNC abort() the process it runs in\n"
    "  clear                                remove every fail, delay, hang and crash rule\n"
    "  pin-flags [FLAG...] [--slot S]       OR token flags into C_GetTokenInfo (none: clear)\n"
    "  max-pin-tries N                      simulate a user PIN retry counter (0: off)\n"
    "  pinpad-pin PIN                       PIN typed on the simulated PIN pad\n"
    "  serial SLOT|all VALUE                report VALUE as serial number ('': the real one)\n"
    "  counts [--forwarded]                 print nonzero call counters, e.g. 'C_Login 1'\n"
    "  reset-counts                         zero every call counter\n"
    "FUNC is a PKCS#11 function name such as C_Sign; SLOT a slot id of the real module.\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A command's words after the command name, with the options taken out.
struct CommandArgs {
    std::vector<std::string_view> words;
    std::optional<CK_SLOT_ID> slot;
    std::optional<std::int64_t> count;
    bool forwarded = false;
};

CommandArgs split_options(const std::vector<std::string_view>& args) {
    CommandArgs parsed;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const bool has_value = i + 1 < args.size();
        if (arg == "--slot") {
            parsed.slot = has_value ? parse_slot(args[++i]) : std::nullopt;
            if (!parsed.slot) {
                throw UsageError("--slot needs a slot id or 'all'");
            }
        } else if (arg == "--count") {
            parsed.count = has_value ? parse_signed(args[++i]) : std::nullopt;
            if (!parsed.count) {
                throw UsageError("--count needs a number (-1: forever)");
            }
        } else if (arg == "--forwarded") {
            parsed.forwarded = true;
        } else if (arg.starts_with("--")) {
            throw UsageError("unknown option " + std::string(arg));
        } else {
            parsed.words.push_back(arg);
        }
    }
    return parsed;
}

// Checks the number of words and that only the allowed options were given.
void expect(const CommandArgs& args, std::size_t min_words, std::size_t max_words,
            bool slot_allowed = false, bool count_allowed = false, bool forwarded_allowed = false) {
    if (args.words.size() < min_words || args.words.size() > max_words) {
        throw UsageError("wrong number of arguments");
    }
    if ((args.slot && !slot_allowed) || (args.count && !count_allowed) ||
        (args.forwarded && !forwarded_allowed)) {
        throw UsageError("option not allowed with this command");
    }
}

Fn function_argument(std::string_view text) {
    if (const std::optional<Fn> function = function_id(text)) {
        return *function;
    }
    throw UsageError("unknown function " + std::string(text) + " (expected e.g. C_Sign)");
}

CK_SLOT_ID slot_argument(std::string_view text) {
    if (const std::optional<CK_SLOT_ID> slot = parse_slot(text)) {
        return *slot;
    }
    throw UsageError("bad slot " + std::string(text) + " (expected a slot id or 'all')");
}

std::uint64_t unsigned_argument(std::string_view text, std::uint64_t max) {
    const std::optional<std::uint64_t> value = parse_unsigned(text);
    if (!value || *value > max) {
        throw UsageError("bad number " + std::string(text));
    }
    return *value;
}

void print_counts(const FaultControl& control, bool forwarded, std::ostream& out) {
    for (std::size_t i = 0; i < kFunctionCount; ++i) {
        const Fn function = static_cast<Fn>(i);
        const std::uint64_t n =
            forwarded ? control.forwarded_count(function) : control.count(function);
        if (n != 0) {
            out << function_name(function) << ' ' << n << '\n';
        }
    }
}

int run_command(const std::string& file, std::string_view command, const CommandArgs& args,
                std::ostream& out) {
    if (command == "init") {
        expect(args, 0, 0);
        FaultControl::create(file);
        return 0;
    }
    FaultControl control = FaultControl::open(file);
    const std::vector<std::string_view>& words = args.words;
    const CK_SLOT_ID slot = args.slot.value_or(kAnySlot);
    if (command == "absent" || command == "present") {
        expect(args, 1, 1);
        const CK_SLOT_ID target = slot_argument(words[0]);
        if (command == "absent") {
            control.set_absent(target);
        } else {
            control.set_present(target);
        }
    } else if (command == "fail") {
        expect(args, 2, 2, true, true);
        const std::optional<CK_RV> rv = parse_rv(words[1]);
        if (!rv) {
            throw UsageError("bad return value " + std::string(words[1]));
        }
        control.fail(function_argument(words[0]), *rv, slot, args.count.value_or(-1));
    } else if (command == "delay") {
        expect(args, 2, 2, true);
        const auto ms = static_cast<std::uint32_t>(unsigned_argument(words[1], UINT32_MAX));
        control.delay(function_argument(words[0]), ms, slot);
    } else if (command == "hang") {
        expect(args, 1, 1, true);
        control.hang(function_argument(words[0]), slot);
    } else if (command == "crash") {
        expect(args, 1, 1, true);
        control.crash(function_argument(words[0]), slot);
    } else if (command == "clear") {
        expect(args, 0, 0);
        control.clear_rules();
    } else if (command == "pin-flags") {
        expect(args, 0, SIZE_MAX, true);
        CK_FLAGS flags = 0;
        for (const std::string_view word : words) {
            const std::optional<CK_FLAGS> flag = parse_token_flag(word);
            if (!flag && word != "none") {
                throw UsageError("unknown token flag " + std::string(word));
            }
            flags |= flag.value_or(0);
        }
        control.set_pin_flags(flags, slot);
    } else if (command == "max-pin-tries") {
        expect(args, 1, 1);
        control.set_max_pin_tries(
            static_cast<std::uint32_t>(unsigned_argument(words[0], UINT32_MAX)));
    } else if (command == "pinpad-pin") {
        expect(args, 1, 1);
        control.set_pinpad_pin(words[0]);
    } else if (command == "serial") {
        expect(args, 2, 2);
        control.set_serial(slot_argument(words[0]), words[1]);
    } else if (command == "counts") {
        expect(args, 0, 0, false, false, true);
        print_counts(control, args.forwarded, out);
    } else if (command == "reset-counts") {
        expect(args, 0, 0);
        control.reset_counts();
    } else {
        throw UsageError("unknown command " + std::string(command));
    }
    return 0;
}

}  // namespace

int run_faultctl(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err) {
    if (args.size() < 2) {
        err << kUsage;
        return 2;
    }
    try {
        const std::vector<std::string_view> rest(args.begin() + 2, args.end());
        return run_command(std::string(args[0]), args[1], split_options(rest), out);
    } catch (const UsageError& error) {
        err << "attache-faultctl: " << error.what() << "\n" << kUsage;
        return 2;
    } catch (const std::exception& error) {
        err << "attache-faultctl: " << error.what() << "\n";
        return 1;
    }
}

}  // namespace attache::faulttoken
