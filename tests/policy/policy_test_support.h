#pragma once

// Queries for the policy tests: a context and a key, built field by field.

#include <gtest/gtest.h>

#include <string>

#include "agent/policy/policy.h"
#include "pkcs11/uri.h"

namespace attache::testing {

inline agent::Policy parsed(const std::string& text, const std::string& origin = "policy.toml") {
    auto p = agent::Policy::parse(text, origin);
    EXPECT_TRUE(p) << (p ? "" : p.error().message());
    return p ? std::move(*p) : agent::Policy::builtin_default();
}

// The message of a policy that must not parse.
inline std::string parse_error(const std::string& text) {
    auto p = agent::Policy::parse(text, "policy.toml");
    EXPECT_FALSE(p) << "parsed: " << text;
    return p ? std::string() : p.error().message();
}

// A key as the broker resolves it, with its canonical URI.
inline agent::PolicyKey key(const std::string& id, const std::string& label,
                            const std::string& token = "alice") {
    p11::TokenInfo t;
    t.label = token;
    t.serial = "0001";
    t.manufacturer = "Test";
    t.model = "Card";
    return {id, p11::Uri::for_object(t, CKO_PRIVATE_KEY, {0x01, 0x02}, label), label, "0001"};
}

struct Asked {
    agent::Context context;
    agent::OperationKind operation = agent::OperationKind::sign;
    agent::PolicyKey key = attache::testing::key("k1", "Signature key");

    Asked& channel(agent::Channel c) {
        context.channel = c;
        return *this;
    }
    Asked& exe(const std::string& e) {
        context.client.exe = e;
        return *this;
    }
    Asked& session(agent::SessionKind s) {
        context.client.session = s;
        return *this;
    }
    Asked& at_seat(bool yes) {
        context.client.at_seat = yes;
        return *this;
    }
    Asked& forwarded() {
        context.ssh.forwarded = true;
        return *this;
    }
    Asked& op(agent::OperationKind o) {
        operation = o;
        if (o == agent::OperationKind::unlock || o == agent::OperationKind::lock ||
            o == agent::OperationKind::list) {
            key = {};
        }
        return *this;
    }
    Asked& with_key(agent::PolicyKey k) {
        key = std::move(k);
        return *this;
    }
    agent::Decision of(const agent::Policy& policy) const {
        return policy.decide({context, operation, key});
    }
    agent::Verdict verdict(const agent::Policy& policy) const { return of(policy).verdict; }
};

inline Asked asked() {
    Asked a;
    a.context.client.exe = "/usr/bin/example";
    a.context.client.session = agent::SessionKind::local;
    return a;
}

}  // namespace attache::testing
