#include "agent/ssh/constraints.h"

#include <algorithm>

#include "agent/ssh/session_bind.h"

namespace attache::ssh {
namespace {

Status expect_empty_reserved(Reader& r) {
    ATTACHE_TRY(ByteView reserved, r.string());
    if (!reserved.empty())
        return Error("non-empty reserved field (an extension this agent does not know)");
    return ok();
}

// string user, string hostname, string reserved, then (string key, bool is_ca) until the end.
Result<DestinationHop> decode_hop(ByteView bytes) {
    Reader r(bytes);
    DestinationHop hop;
    ATTACHE_TRY(hop.user, read_text(r, "user"));
    if (hop.user.size() > kMaxConstraintUserSize)
        return Error("user pattern longer than " + std::to_string(kMaxConstraintUserSize));
    ATTACHE_TRY(hop.hostname, read_text(r, "hostname"));
    ATTACHE_CHECK(expect_empty_reserved(r));
    while (!r.at_end()) {
        ATTACHE_TRY(ByteView key, r.string());
        ATTACHE_TRY(std::uint8_t is_ca, r.u8());
        if (auto parsed = parse_public_key_blob(key); !parsed)
            return std::move(parsed).error().context("destination host key");
        hop.keys.push_back(HostKeySpec{Bytes(key.begin(), key.end()), is_ca != 0});
    }
    return hop;
}

Result<DestinationConstraint> decode_destination(ByteView bytes) {
    Reader r(bytes);
    ATTACHE_TRY(ByteView from, r.string());
    ATTACHE_TRY(ByteView to, r.string());
    ATTACHE_CHECK(expect_empty_reserved(r));
    ATTACHE_CHECK(r.expect_end());
    DestinationConstraint c;
    ATTACHE_TRY(c.from, decode_hop(from));
    ATTACHE_TRY(c.to, decode_hop(to));
    if (!c.from.user.empty() || c.from.hostname.empty() != c.from.keys.empty())
        return Error("inconsistent \"from\" specification");
    if (c.to.hostname.empty() || c.to.keys.empty())
        return Error("incomplete \"to\" specification");
    return c;
}

Result<std::vector<DestinationConstraint>> decode_destinations(ByteView bytes) {
    Reader r(bytes);
    std::vector<DestinationConstraint> out;
    while (!r.at_end()) {
        if (out.size() >= kMaxDestinationConstraints)
            return Error("more than " + std::to_string(kMaxDestinationConstraints) +
                         " destination constraints");
        ATTACHE_TRY(ByteView one, r.string());
        ATTACHE_TRY(DestinationConstraint c, decode_destination(one));
        out.push_back(std::move(c));
    }
    return out;
}

Result<AssociatedCerts> decode_certs(Reader& r) {
    AssociatedCerts out;
    ATTACHE_TRY(std::uint8_t certs_only, r.u8());
    out.certs_only = certs_only != 0;
    ATTACHE_TRY(ByteView blob, r.string());
    Reader certs(blob);
    while (!certs.at_end()) {
        if (out.certificates.size() >= kMaxAssociatedCerts)
            return Error("more than " + std::to_string(kMaxAssociatedCerts) + " certificates");
        ATTACHE_TRY(ByteView cert, certs.string());
        out.certificates.emplace_back(cert.begin(), cert.end());
    }
    return out;
}

Status decode_extension(Reader& r, KeyConstraints& out) {
    ATTACHE_TRY(std::string name, read_text(r, "constraint extension name"));
    if (name == kRestrictDestination) {
        if (out.destinations)
            return Error(name + " given twice");
        ATTACHE_TRY(ByteView list, r.string());
        auto destinations = decode_destinations(list);
        if (!destinations)
            return std::move(destinations).error().context(name);
        out.destinations = std::move(*destinations);
        return ok();
    }
    if (name == kAssociatedCerts) {
        if (out.certificates)
            return Error(name + " given twice");
        auto certs = decode_certs(r);
        if (!certs)
            return std::move(certs).error().context(name);
        out.certificates = std::move(*certs);
        return ok();
    }
    return Error("unsupported constraint extension \"" + name + "\"");
}

void encode_hop(Writer& w, const DestinationHop& hop) {
    Writer h;
    h.string(hop.user).string(hop.hostname).string(ByteView());
    for (const HostKeySpec& k : hop.keys)
        h.string(k.key_blob).u8(k.is_ca ? 1 : 0);
    w.string(h.bytes());
}

}  // namespace

Result<KeyConstraints> decode_constraints(ByteView bytes) {
    Reader r(bytes);
    KeyConstraints out;
    while (!r.at_end()) {
        ATTACHE_TRY(std::uint8_t type, r.u8());
        switch (type) {
            case SSH_AGENT_CONSTRAIN_LIFETIME: {
                if (out.lifetime_seconds)
                    return Error("lifetime constraint given twice");
                ATTACHE_TRY(std::uint32_t seconds, r.u32());
                out.lifetime_seconds = seconds;
                break;
            }
            case SSH_AGENT_CONSTRAIN_CONFIRM:
                if (out.confirm)
                    return Error("confirm constraint given twice");
                out.confirm = true;
                break;
            case SSH_AGENT_CONSTRAIN_EXTENSION:
                ATTACHE_CHECK(decode_extension(r, out));
                break;
            default:
                return Error("unknown constraint type " + std::to_string(type));
        }
    }
    return out;
}

Bytes encode_constraints(const KeyConstraints& c) {
    Writer w;
    if (c.lifetime_seconds)
        w.u8(SSH_AGENT_CONSTRAIN_LIFETIME).u32(*c.lifetime_seconds);
    if (c.confirm)
        w.u8(SSH_AGENT_CONSTRAIN_CONFIRM);
    if (c.destinations) {
        Writer list;
        for (const DestinationConstraint& d : *c.destinations) {
            Writer one;
            encode_hop(one, d.from);
            encode_hop(one, d.to);
            one.string(ByteView());
            list.string(one.bytes());
        }
        w.u8(SSH_AGENT_CONSTRAIN_EXTENSION).string(kRestrictDestination).string(list.bytes());
    }
    if (c.certificates) {
        Writer certs;
        for (const Bytes& cert : c.certificates->certificates)
            certs.string(cert);
        w.u8(SSH_AGENT_CONSTRAIN_EXTENSION).string(kAssociatedCerts);
        w.u8(c.certificates->certs_only ? 1 : 0).string(certs.bytes());
    }
    return w.take();
}

}  // namespace attache::ssh
