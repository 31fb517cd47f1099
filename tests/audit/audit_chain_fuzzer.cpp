// Fuzz target for what `attache audit verify` and `attache log` read from untrusted files: the
// record line parser, the chain check (with and without the key) and a user's own records.
// Invariants: nothing crashes or reads out of bounds; a parsed line re-encodes to a line that
// parses to the same fields; the key only ever adds findings; a finding's line is in the file.
//
// The key is fixed ('k' x 32) so that seeds can carry valid MACs: tests/fuzz/corpus/audit_chain.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/audit/chain_verify.h"
#include "agent/audit/record_line.h"
#include "agent/audit/user_records.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace attache::audit;
using attache::fuzz::check;

const AuditKey& fuzz_key() {
    static const AuditKey& key = *new AuditKey(*AuditKey::from_bytes(std::string(kKeyBytes, 'k')));
    return key;
}

void check_line(std::string_view line) {
    auto parsed = parse_line(line);
    if (!parsed)
        return;
    check(parsed->mac.size() == kMacBytes, "a parsed mac has 32 bytes");
    check(parsed->body.size() < line.size(), "the body is inside the line");
    for (const auto& [name, value] : parsed->fields) {
        if (value.size() > kMaxValueBytes)
            return;  // the writer would cut it
    }
    const std::string again = encode_line(encode_body(parsed->fields), parsed->mac);
    auto reparsed = parse_line(again);
    check(reparsed.has_value(), "a re-encoded line parses");
    check(reparsed->fields == parsed->fields, "a re-encoded line has the same fields");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;

    const ChainReport keyed = verify_chain(text, &fuzz_key());
    const ChainReport keyless = verify_chain(text, nullptr);
    check(keyed.macs_checked && !keyless.macs_checked, "macs_checked says whether a key was given");
    check(!keyed.intact() || keyless.intact(), "the key only adds findings");
    for (const ChainReport* r : {&keyed, &keyless}) {
        if (r->intact()) {
            check(r->records > 0, "an intact chain has records");
            check(r->first_seq <= r->last_seq, "an intact chain's seq range is ordered");
            check(r->tail_intact, "an intact chain's tail is intact");
        } else {
            check(r->problem->line <= lines, "a finding names a line of the file");
            check(!r->problem->message.empty(), "a finding says what it is");
        }
    }

    check(user_records(text, 1000, 4).size() <= 4, "at most the records asked for");

    size_t pos = 0;
    while (pos < text.size()) {
        const size_t end = std::min(text.find('\n', pos), text.size());
        check_line(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return 0;
}
