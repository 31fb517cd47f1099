#pragma once

// Checks an audit file's chain (see chained_file_sink.h for how it is written). Names the
// first record that is missing (a gap in the sequence numbers), altered (its MAC does not
// match, or it no longer parses), reordered (a sequence number comes back), or foreign (a
// record of another chain, or another file's header); a file whose first line is not a header
// has lost its start. Without the key it checks everything but the MACs, and says so.
//
// After damage the broker restarts the chain with a header naming it (after_damage_seq=N);
// the check resumes there, so the report also says whether the chain's last segment, the one
// the broker continues, is intact.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/audit/audit_key.h"

namespace attache::audit {

enum class ChainBreak {
    empty,         // no records at all
    head_missing,  // line 1 is not a header: the start was cut off
    malformed,     // a line that is not a record (edited, or cut off by a crash)
    missing,       // a sequence number is skipped
    reordered,     // a sequence number comes back, or a skipped one comes later
    altered,       // the MAC does not match
    foreign,       // a record of another chain, or a second header
    restarted,     // the broker found damage the check could not see (no key) and restarted
};
std::string_view chain_break_name(ChainBreak kind);  // "missing", "altered", ...

struct ChainProblem {
    ChainBreak kind = ChainBreak::malformed;
    size_t line = 0;                   // 1-based
    std::optional<std::uint64_t> seq;  // the record's sequence number, when it has one
    std::string message;               // "seq 4 is missing: line 5 holds seq 5"
};

// A header after damage: the broker restarted the chain there.
struct ChainRestart {
    size_t line = 0;
    std::uint64_t seq = 0;
    std::string after_damage_seq;  // as the header says
    std::string damage;            // what the broker found
};

struct ChainReport {
    bool macs_checked = false;
    size_t records = 0;  // lines that are records of the file's chains
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
    std::optional<ChainProblem> problem;  // the first one; none: intact
    std::vector<ChainRestart> restarts;

    // For the writer: the last segment (from the last header on) is intact, and where it ends.
    bool tail_intact = false;
    std::string tail_chain;
    std::uint64_t tail_seq = 0;
    Bytes tail_mac;
    std::uint64_t max_seq = 0;  // the largest sequence number on any line
    bool ends_in_newline = true;

    bool intact() const { return !problem.has_value(); }
};

// `key` nullptr: MACs are not checked.
ChainReport verify_chain(std::string_view text, const AuditKey* key);

}  // namespace attache::audit
