#include "agent/audit/chain_verify.h"

#include <algorithm>

#include "agent/audit/record_line.h"

namespace attache::audit {
namespace {

// The file's lines, split on '\n'; the empty piece after a final newline is no line.
class Lines {
  public:
    Lines(std::string_view text, size_t offset, size_t number)
        : text_(text), pos_(offset), number_(number) {}
    bool next(std::string_view& line) {
        if (pos_ >= text_.size())
            return false;
        const size_t end = std::min(text_.find('\n', pos_), text_.size());
        line = text_.substr(pos_, end - pos_);
        pos_ = end + 1;
        ++number_;
        return true;
    }
    size_t number() const { return number_; }
    size_t offset() const { return pos_; }

  private:
    std::string_view text_;
    size_t pos_;
    size_t number_;
};

struct Record {
    ParsedLine parsed;
    std::string type;
    std::string chain;
    std::uint64_t seq = 0;
};

Result<Record> read_record(std::string_view line) {
    if (line.empty())
        return Error("the line is empty");
    ATTACHE_TRY(ParsedLine parsed, parse_line(line));
    Record r;
    const auto seq = parsed.get("seq");
    const auto chain = parsed.get("chain");
    const auto type = parsed.get("type");
    if (!seq || !chain || !type)
        return Error("seq, chain or type is missing");
    const auto n = parse_seq(*seq);
    if (!n)
        return Error("seq is not a number");
    if (*type == "header" && parsed.get("format") != "1")
        return Error("the header is of an unknown format (this attache reads format 1)");
    r.seq = *n;
    r.chain = std::string(*chain);
    r.type = std::string(*type);
    r.parsed = std::move(parsed);
    return r;
}

// The line number of the first record of `chain` with sequence number `seq` after `offset`,
// before the next header: a file of many segments is still read a bounded number of times.
std::optional<size_t> find_later(std::string_view text, size_t offset, size_t number,
                                 const std::string& chain, std::uint64_t seq) {
    Lines lines(text, offset, number);
    std::string_view line;
    while (lines.next(line)) {
        auto r = read_record(line);
        if (r && r->type == "header")
            return std::nullopt;
        if (r && r->chain == chain && r->seq == seq)
            return lines.number();
    }
    return std::nullopt;
}

std::string seq_text(std::uint64_t seq) {
    return "seq " + std::to_string(seq);
}

}  // namespace

std::string_view chain_break_name(ChainBreak kind) {
    switch (kind) {
        case ChainBreak::empty:
            return "empty";
        case ChainBreak::head_missing:
            return "head-missing";
        case ChainBreak::malformed:
            return "malformed";
        case ChainBreak::missing:
            return "missing";
        case ChainBreak::reordered:
            return "reordered";
        case ChainBreak::altered:
            return "altered";
        case ChainBreak::foreign:
            return "foreign";
        case ChainBreak::restarted:
            return "restarted";
    }
    return "broken";
}

ChainReport verify_chain(std::string_view text, const AuditKey* key) {
    ChainReport report;
    report.macs_checked = key != nullptr;
    if (text.empty()) {
        report.problem = ChainProblem{ChainBreak::empty, 0, std::nullopt, "the file is empty"};
        return report;
    }
    report.ends_in_newline = text.back() == '\n';

    bool in_segment = false;  // checking records against the current segment's chain
    std::string chain;
    std::uint64_t expected = 0;
    Bytes previous;
    auto broken = [&](ChainBreak kind, size_t line, std::optional<std::uint64_t> seq,
                      std::string message) {
        if (!report.problem)
            report.problem = ChainProblem{kind, line, seq, std::move(message)};
        in_segment = false;
    };

    Lines lines(text, 0, 0);
    std::string_view text_line;
    while (lines.next(text_line)) {
        const size_t n = lines.number();
        const std::string at = "line " + std::to_string(n);
        auto record = read_record(text_line);
        if (!record) {
            broken(ChainBreak::malformed, n, std::nullopt,
                   at + " is not an audit record (" + record.error().message() + ")");
            continue;
        }
        const Record& r = *record;
        report.max_seq = std::max(report.max_seq, r.seq);
        if (r.type == "header") {
            const auto after = r.parsed.get("after_damage_seq");
            if (n > 1 && !after) {
                broken(ChainBreak::foreign, n, r.seq,
                       at + " (" + seq_text(r.seq) + ") starts another chain (" + r.chain +
                           "): records of another file were added");
                continue;
            }
            if (n > 1) {
                const std::string damage(r.parsed.get("damage").value_or(""));
                broken(ChainBreak::restarted, n, r.seq,
                       at + " (" + seq_text(r.seq) + "): the broker found damage at seq " +
                           std::string(*after) + " (" + damage + ") and restarted the chain");
                report.restarts.push_back({n, r.seq, std::string(*after), damage});
            } else {
                report.first_seq = r.seq;
            }
            in_segment = true;
            chain = r.chain;
            expected = r.seq;
            previous.assign(kMacBytes, 0);
        } else if (n == 1) {
            broken(ChainBreak::head_missing, n, r.seq,
                   "line 1 holds " + seq_text(r.seq) +
                       ", not the chain's header: the start of the file is missing");
            continue;
        }
        if (!in_segment)
            continue;
        if (r.chain != chain) {
            broken(ChainBreak::foreign, n, r.seq,
                   at + " (" + seq_text(r.seq) + ") belongs to another chain (" + r.chain +
                       "), not to this file's (" + chain + ")");
            continue;
        }
        if (r.seq < expected) {
            broken(ChainBreak::reordered, n, r.seq,
                   at + " holds " + seq_text(r.seq) + " after " + seq_text(expected - 1) +
                       ": the records are out of order");
            continue;
        }
        if (r.seq > expected) {
            if (auto later = find_later(text, lines.offset(), n, chain, expected)) {
                broken(ChainBreak::reordered, n, r.seq,
                       seq_text(expected) + " is at line " + std::to_string(*later) + ", after " +
                           seq_text(r.seq) + " at " + at + ": the records are out of order");
            } else {
                const std::string gap = r.seq == expected + 1
                                            ? seq_text(expected) + " is missing"
                                            : "seq " + std::to_string(expected) + ".." +
                                                  std::to_string(r.seq - 1) + " are missing";
                broken(ChainBreak::missing, n, r.seq,
                       gap + " (" + at + " holds " + seq_text(r.seq) + ")");
            }
            continue;
        }
        if (key != nullptr && key->chain_mac(previous, r.parsed.body) != r.parsed.mac) {
            broken(ChainBreak::altered, n, r.seq,
                   at + " (" + seq_text(r.seq) + ") was altered: its MAC does not match");
            continue;
        }
        previous = r.parsed.mac;
        expected = r.seq + 1;
        ++report.records;
        report.last_seq = r.seq;
        report.tail_chain = chain;
        report.tail_seq = r.seq;
        report.tail_mac = previous;
    }
    report.tail_intact = in_segment;
    return report;
}

}  // namespace attache::audit
