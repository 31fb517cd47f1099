// Writes (or checks) the seed corpora of the native protocol fuzzers: one valid body of every
// request and reply type (tests/protocol/samples.cpp) and malformed bodies the decoders must
// refuse. The files are committed; `check` (a ctest test) fails when they are missing, differ
// from what this program writes, or a seed decodes other than intended. Other files in the
// directories (crash regressions) are left alone.
//
// Usage: native_seed_corpus write|check REQUEST_DIR REPLY_DIR

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "pkcs11/agent_protocol/codec.h"
#include "tests/protocol/layout.h"
#include "tests/protocol/samples.h"

namespace attache::protocol {
namespace {

namespace fs = std::filesystem;
using layout::Kind;

struct Seed {
    std::string name;
    Bytes body;
    bool valid;
};

void put_u32(Bytes& b, size_t offset, uint32_t v) {
    b[offset] = static_cast<uint8_t>(v >> 24);
    b[offset + 1] = static_cast<uint8_t>(v >> 16);
    b[offset + 2] = static_cast<uint8_t>(v >> 8);
    b[offset + 3] = static_cast<uint8_t>(v);
}

using FieldsOf = std::function<std::optional<std::vector<layout::Field>>(std::span<const uint8_t>)>;

// The offset of the first field of `kind` in `body`; exits when there is none (a sample changed).
size_t first(const Bytes& body, Kind kind, const FieldsOf& fields_of) {
    auto fields = fields_of(body);
    if (fields) {
        for (const auto& f : *fields) {
            if (f.kind == kind)
                return f.offset;
        }
    }
    std::fprintf(stderr, "native_seed_corpus: a sample lost the field to corrupt\n");
    std::exit(2);
}

Bytes sample_request(const std::string& name) {
    for (const auto& s : samples::requests()) {
        if (s.name == name)
            return samples::request_body(s.id, s.request);
    }
    std::fprintf(stderr, "native_seed_corpus: no request sample %s\n", name.c_str());
    std::exit(2);
}

Bytes sample_reply(const std::string& name) {
    for (const auto& s : samples::replies()) {
        if (s.name == name)
            return samples::reply_body(s.id, s.reply);
    }
    std::fprintf(stderr, "native_seed_corpus: no reply sample %s\n", name.c_str());
    std::exit(2);
}

std::string numbered(size_t n, const std::string& name) {
    char prefix[8];
    std::snprintf(prefix, sizeof prefix, "%02zu-", n);
    return prefix + name;
}

std::vector<Seed> request_seeds() {
    std::vector<Seed> out;
    auto add = [&](const std::string& name, Bytes body, bool valid) {
        out.push_back({numbered(out.size() + 1, name), std::move(body), valid});
    };
    for (const auto& s : samples::requests())
        add(s.name, samples::request_body(s.id, s.request), true);

    const FieldsOf fields = layout::request_fields;
    add("bad-empty", {}, false);
    add("bad-type-11", Bytes{11, 0, 0, 0, 1}, false);
    Bytes sign = sample_request("sign-ecdsa-der");
    add("bad-truncated-sign", Bytes(sign.begin(), sign.begin() + sign.size() / 2), false);
    Bytes b = sample_request("hello");
    b.push_back(0);
    add("bad-trailing-byte", b, false);
    b = sign;
    put_u32(b, first(sign, Kind::string, fields), 0xffffffff);
    add("bad-length-ffffffff", b, false);
    Bytes derive = sample_request("derive");
    b = derive;
    const size_t point = layout::request_fields(derive)->back().offset;
    put_u32(b, point, static_cast<uint32_t>(derive.size() - point - 4 + 1));
    add("bad-length-past-end", b, false);
    b = sign;
    b[first(sign, Kind::boolean, fields)] = 2;
    add("bad-bool-2", b, false);
    b = sign;
    b[first(sign, Kind::sign_scheme, fields)] = 0;
    add("bad-sign-scheme-0", b, false);
    b = sign;
    b[first(sign, Kind::hash, fields)] = 5;
    add("bad-hash-5", b, false);
    Bytes unlock = sample_request("unlock-pin");
    b = unlock;
    b[layout::request_fields(unlock)->at(2).offset] = 0;  // has_pin = 0, PIN bytes follow
    add("bad-pin-without-has-pin", b, false);
    Bytes per_use = sample_request("sign-context-pin");
    b = per_use;
    b[layout::request_fields(per_use)->at(7).offset] = 0;  // has_context_pin = 0, PIN follows
    add("bad-context-pin-without-has-pin", b, false);
    b = per_use;
    b[layout::request_fields(per_use)->at(7).offset] = 2;
    add("bad-context-pin-bool-2", b, false);
    Bytes audit_log = sample_request("audit-log");
    b = audit_log;
    put_u32(b, layout::kHeaderSize, 0);
    add("bad-audit-log-0-records", b, false);
    put_u32(b, layout::kHeaderSize, 1001);
    add("bad-audit-log-1001-records", b, false);
    return out;
}

std::vector<Seed> reply_seeds() {
    std::vector<Seed> out;
    auto add = [&](const std::string& name, Bytes body, bool valid) {
        out.push_back({numbered(out.size() + 1, name), std::move(body), valid});
    };
    for (const auto& s : samples::replies()) {
        if (s.name == "unlock-new" || s.name == "error-bad-request")
            continue;  // nothing new to a fuzzer
        add(s.name, samples::reply_body(s.id, s.reply), true);
    }
    const FieldsOf fields = layout::reply_fields;
    Bytes b = sample_reply("error");
    put_u32(b, first(b, Kind::error_code, fields), 99);
    add("error-unknown-code", b, true);  // decodes as `internal`

    add("bad-empty", {}, false);
    add("bad-not-a-reply", Bytes{0x01, 0, 0, 0, 1, 0, 0, 0, 1}, false);
    add("bad-type-0x8b", Bytes{0x8b, 0, 0, 0, 1, 0, 0, 0, 0}, false);
    Bytes keys = sample_reply("list-keys");
    add("bad-truncated-list-keys", Bytes(keys.begin(), keys.end() - 1), false);
    b = sample_reply("unlock");
    b.push_back(0);
    add("bad-trailing-byte", b, false);
    Bytes hello = sample_reply("hello");
    b = hello;
    put_u32(b, first(hello, Kind::string, fields), 0xffffffff);
    add("bad-length-ffffffff", b, false);
    Bytes status = sample_reply("status");
    b = status;
    const size_t count = first(status, Kind::token_list, fields);
    put_u32(b, count, static_cast<uint32_t>(status.size() - count - 4 + 1));
    add("bad-list-count-past-end", b, false);
    b = keys;
    b[first(keys, Kind::key_type, fields)] = 0;
    add("bad-key-type-0", b, false);
    b = sample_reply("unlock");
    b[first(b, Kind::boolean, fields)] = 2;
    add("bad-bool-2", b, false);
    b = keys;
    const size_t authorities = first(keys, Kind::authority_list, fields);
    put_u32(b, authorities, static_cast<uint32_t>(keys.size() - authorities - 4 + 1));
    add("bad-authority-count-past-end", b, false);
    Bytes audit = sample_reply("audit-log");
    b = audit;
    put_u32(b, first(audit, Kind::field_count, fields), 65);  // more than kMaxAuditFields
    add("bad-audit-log-65-fields", b, false);
    b = audit;
    put_u32(b, first(audit, Kind::field_count, fields), 0xffffffff);
    add("bad-audit-log-field-count-ffffffff", b, false);
    b = audit;
    const size_t records = first(audit, Kind::audit_record_list, fields);
    put_u32(b, records, static_cast<uint32_t>(audit.size() - records - 4 + 1));
    add("bad-audit-log-count-past-end", b, false);
    // A version 1 key list (no version 2 fields) is malformed at version 2.
    for (const auto& s : samples::replies()) {
        if (s.name == "list-keys") {
            const Bytes v1 = encode_reply(s.id, s.reply, 1);
            add("bad-list-keys-version-1", Bytes(v1.begin() + 4, v1.end()), false);
        }
    }
    return out;
}

bool read_file(const fs::path& path, Bytes& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

bool write_file(const fs::path& path, const Bytes& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return out.good();
}

// Checks the decoder agrees with each seed's intent, then writes or compares the files.
bool process(const std::vector<Seed>& seeds, const fs::path& dir, bool write,
             bool (*decodes)(std::span<const uint8_t>)) {
    bool ok = true;
    if (write)
        fs::create_directories(dir);
    for (const auto& seed : seeds) {
        const fs::path path = dir / seed.name;
        if (decodes(seed.body) != seed.valid) {
            std::fprintf(stderr, "%s: decodes %s\n", path.c_str(),
                         seed.valid ? "with an error" : "though malformed");
            ok = false;
        }
        if (write) {
            if (!write_file(path, seed.body)) {
                std::fprintf(stderr, "%s: cannot write\n", path.c_str());
                ok = false;
            }
            continue;
        }
        Bytes committed;
        if (!read_file(path, committed)) {
            std::fprintf(stderr, "%s: missing; run native_seed_corpus write\n", path.c_str());
            ok = false;
        } else if (committed != seed.body) {
            std::fprintf(stderr, "%s: differs from the generator; run native_seed_corpus write\n",
                         path.c_str());
            ok = false;
        }
    }
    std::printf("%s: %zu seeds %s\n", dir.c_str(), seeds.size(), write ? "written" : "checked");
    return ok;
}

bool request_decodes(std::span<const uint8_t> b) {
    return decode_request(b).has_value();
}

bool reply_decodes(std::span<const uint8_t> b) {
    return decode_reply(b).has_value();
}

}  // namespace
}  // namespace attache::protocol

int main(int argc, char** argv) {
    using namespace attache::protocol;
    if (argc != 4 || (std::strcmp(argv[1], "write") != 0 && std::strcmp(argv[1], "check") != 0)) {
        std::fprintf(stderr, "usage: %s write|check REQUEST_DIR REPLY_DIR\n", argv[0]);
        return 2;
    }
    const bool write = std::strcmp(argv[1], "write") == 0;
    bool ok = process(request_seeds(), argv[2], write, request_decodes);
    ok = process(reply_seeds(), argv[3], write, reply_decodes) && ok;
    return ok ? 0 : 1;
}
