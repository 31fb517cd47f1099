#include "agent/audit/record_line.h"

#include <charconv>

namespace attache::audit {
namespace {

bool bare_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == ',' || c == '~' ||
           c == '-';
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;  // upper case is not what the writer writes
}

void append_value(std::string& out, std::string_view value) {
    if (value.size() > kMaxValueBytes)
        value = value.substr(0, kMaxValueBytes);
    bool bare = !value.empty();
    for (char c : value)
        bare = bare && bare_char(c);
    if (bare) {
        out += value;
        return;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u >= 0x20 && u < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        }
    }
    out += '"';
}

// Reads a value at `pos` (bare or quoted), leaving `pos` after it.
Result<std::string> read_value(std::string_view line, size_t& pos) {
    std::string value;
    if (pos < line.size() && line[pos] == '"') {
        ++pos;
        while (true) {
            if (pos >= line.size())
                return Error("a quoted value is not closed");
            const char c = line[pos++];
            if (c == '"')
                return value;
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u >= 0x7f)
                return Error("a quoted value holds an unescaped control or non-ASCII byte");
            if (c != '\\') {
                value += c;
                continue;
            }
            if (pos >= line.size())
                return Error("a quoted value ends in a backslash");
            const char e = line[pos++];
            if (e == '"' || e == '\\') {
                value += e;
            } else if (e == 'x' && pos + 2 <= line.size() && hex_digit(line[pos]) >= 0 &&
                       hex_digit(line[pos + 1]) >= 0) {
                value += static_cast<char>(hex_digit(line[pos]) * 16 + hex_digit(line[pos + 1]));
                pos += 2;
            } else {
                return Error("a quoted value holds an unknown escape");
            }
        }
    }
    const size_t start = pos;
    while (pos < line.size() && line[pos] != ' ') {
        if (!bare_char(line[pos]))
            return Error("an unquoted value holds a character that needs quotes");
        ++pos;
    }
    if (pos == start)
        return Error("a value is empty");
    return std::string(line.substr(start, pos - start));
}

std::optional<Bytes> parse_mac(std::string_view text) {
    if (text.size() != 2 * kMacBytes)
        return std::nullopt;
    Bytes mac(kMacBytes);
    for (size_t i = 0; i < kMacBytes; ++i) {
        const int hi = hex_digit(text[2 * i]);
        const int lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        mac[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return mac;
}

}  // namespace

std::string encode_body(const Fields& fields) {
    std::string out;
    for (const auto& [name, value] : fields) {
        if (!out.empty())
            out += ' ';
        out += name;
        out += '=';
        append_value(out, value);
    }
    return out;
}

std::string encode_line(std::string_view body, const Bytes& mac) {
    return std::string(body) + " mac=" + hex(mac);
}

std::optional<std::string_view> ParsedLine::get(std::string_view name) const {
    for (const auto& [n, v] : fields) {
        if (n == name)
            return std::string_view(v);
    }
    return std::nullopt;
}

Result<ParsedLine> parse_line(std::string_view line) {
    if (line.size() > kMaxLineBytes)
        return Error("the line is longer than " + std::to_string(kMaxLineBytes) + " bytes");
    ParsedLine parsed;
    size_t pos = 0;
    while (true) {
        const size_t field_start = pos;
        while (pos < line.size() && name_char(line[pos]))
            ++pos;
        if (pos == field_start || pos >= line.size() || line[pos] != '=')
            return Error("expected name=value at byte " + std::to_string(field_start + 1));
        std::string name(line.substr(field_start, pos - field_start));
        ++pos;
        if (name == "mac") {
            auto mac = parse_mac(line.substr(pos));
            if (!mac)
                return Error(
                    "the mac field is not 64 lower-case hex digits at the end of the line");
            if (field_start == 0)
                return Error("the line holds only a mac");
            parsed.body = line.substr(0, field_start - 1);
            parsed.mac = std::move(*mac);
            return parsed;
        }
        ATTACHE_TRY(std::string value, read_value(line, pos));
        if (parsed.fields.size() >= kMaxFields)
            return Error("the line has more than " + std::to_string(kMaxFields) + " fields");
        if (parsed.get(name))
            return Error("the field " + name + " appears twice");
        parsed.fields.emplace_back(std::move(name), std::move(value));
        if (pos >= line.size())
            return Error("the line does not end in a mac field");
        if (line[pos] != ' ')
            return Error("expected a space at byte " + std::to_string(pos + 1));
        ++pos;
    }
}

std::optional<unsigned long long> parse_seq(std::string_view text) {
    if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0'))
        return std::nullopt;
    unsigned long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

}  // namespace attache::audit
