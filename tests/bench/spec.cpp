#include "tests/bench/spec.h"

#include <map>

namespace attache::bench {
namespace {

struct MechInfo {
    Mech mech;
    std::string_view key;
    std::string_view title;
};

constexpr MechInfo kMechs[] = {
    {Mech::rsa2048, "rsa2048", "RSA-2048 PKCS#1 v1.5 SHA-256 signature"},
    {Mech::rsa3072, "rsa3072", "RSA-3072 PKCS#1 v1.5 SHA-256 signature"},
    {Mech::ec_p256, "ec-p256", "ECDSA P-256 SHA-256 signature"},
    {Mech::ed25519, "ed25519", "Ed25519 signature"},
    {Mech::rsa2048_oaep, "rsa2048-oaep", "RSA-2048 OAEP decryption"},
};

const MechInfo& info(Mech m) {
    for (const auto& i : kMechs) {
        if (i.mech == m)
            return i;
    }
    return kMechs[0];
}

std::string_view kind_key(Kind k) {
    switch (k) {
        case Kind::module:
            return "module";
        case Kind::native:
            return "native";
        case Kind::ssh:
            return "ssh";
    }
    return "?";
}

// Values are hex-encoded where they may hold anything; the rest never contain ';' or '='.
std::string text_field(std::string_view name, const std::string& value) {
    return std::string(name) + "=" + to_hex(to_bytes(value)) + ";";
}
std::string bytes_field(std::string_view name, const Bytes& value) {
    return std::string(name) + "=" + to_hex(value) + ";";
}

}  // namespace

std::string_view mech_key(Mech m) {
    return info(m).key;
}
std::string_view mech_title(Mech m) {
    return info(m).title;
}
std::optional<Mech> mech_from_key(std::string_view key) {
    for (const auto& i : kMechs) {
        if (i.key == key)
            return i.mech;
    }
    return std::nullopt;
}
bool is_decryption(Mech m) {
    return m == Mech::rsa2048_oaep;
}

std::string to_hex(const Bytes& b) {
    return hex(b);
}

std::optional<Bytes> from_hex(std::string_view s) {
    if (s.size() % 2 != 0)
        return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    Bytes out;
    out.reserve(s.size() / 2);
    for (size_t i = 0; i < s.size(); i += 2) {
        int hi = nibble(s[i]), lo = nibble(s[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
    return out;
}

std::string ClientSpec::encode() const {
    std::string line =
        "kind=" + std::string(kind_key(kind)) + ";mech=" + std::string(mech_key(mech)) + ";";
    line += text_field("module", module);
    line += text_field("token", token);
    line += text_field("module_helper", module_helper);
    line += text_field("socket", socket);
    line += text_field("label", label);
    line += text_field("key_id", key_id);
    line += bytes_field("spki", spki);
    line += bytes_field("message", message);
    line += bytes_field("ciphertext", ciphertext);
    line += bytes_field("plaintext", plaintext);
    return line;
}

Result<ClientSpec> ClientSpec::decode(std::string_view line) {
    std::map<std::string, std::string, std::less<>> fields;
    while (!line.empty()) {
        const size_t end = line.find(';');
        std::string_view field = line.substr(0, end);
        line = end == std::string_view::npos ? std::string_view{} : line.substr(end + 1);
        const size_t eq = field.find('=');
        if (eq == std::string_view::npos)
            return Error("client spec: field without '=': " + std::string(field));
        fields.emplace(std::string(field.substr(0, eq)), std::string(field.substr(eq + 1)));
    }
    ClientSpec spec;
    auto get = [&](std::string_view name) -> const std::string* {
        auto it = fields.find(name);
        return it == fields.end() ? nullptr : &it->second;
    };
    const std::string* kind = get("kind");
    const std::string* mech = get("mech");
    if (!kind || !mech)
        return Error("client spec: kind and mech are required");
    if (*kind == "module") {
        spec.kind = Kind::module;
    } else if (*kind == "native") {
        spec.kind = Kind::native;
    } else if (*kind == "ssh") {
        spec.kind = Kind::ssh;
    } else {
        return Error("client spec: unknown kind " + *kind);
    }
    auto m = mech_from_key(*mech);
    if (!m)
        return Error("client spec: unknown mechanism " + *mech);
    spec.mech = *m;
    auto bytes = [&](std::string_view name, Bytes& out) -> Status {
        if (const std::string* v = get(name)) {
            auto b = from_hex(*v);
            if (!b)
                return Error("client spec: bad hex in " + std::string(name));
            out = std::move(*b);
        }
        return ok();
    };
    auto text = [&](std::string_view name, std::string& out) -> Status {
        Bytes b;
        ATTACHE_CHECK(bytes(name, b));
        out = to_string(b);
        return ok();
    };
    ATTACHE_CHECK(text("module", spec.module));
    ATTACHE_CHECK(text("token", spec.token));
    ATTACHE_CHECK(text("module_helper", spec.module_helper));
    ATTACHE_CHECK(text("socket", spec.socket));
    ATTACHE_CHECK(text("label", spec.label));
    ATTACHE_CHECK(text("key_id", spec.key_id));
    ATTACHE_CHECK(bytes("spki", spec.spki));
    ATTACHE_CHECK(bytes("message", spec.message));
    ATTACHE_CHECK(bytes("ciphertext", spec.ciphertext));
    ATTACHE_CHECK(bytes("plaintext", spec.plaintext));
    return spec;
}

}  // namespace attache::bench
