#pragma once

// What the SSH socket signs at all, decided on the facts the SSH front end verified
// (SshFacts): never anything on a connection whose session-bind failed; only an SSH login
// (userauth request) — on a bound connection, only for the bound session — or an SSHSIG blob
// of an allowed namespace. The broker's check_channel step applies it; whether forwarded use
// is allowed is the policy's rule (`forwarded = true`).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agent/request/context.h"

namespace attache::agent {

struct SshSignRules {
    // SSHSIG namespaces signed (the policy's ssh.sshsig_namespaces; default "git", "file").
    std::function<bool(std::string_view)> namespace_allowed = [](std::string_view n) {
        return n == "git" || n == "file";
    };
    bool allow_forwarded = false;
};

// Why a sign with these facts is refused (a sentence for the log and the client, saying what
// to do), or nothing when the rules allow it.
std::optional<std::string> ssh_sign_refusal(const SshFacts& facts, const SshSignRules& rules);

}  // namespace attache::agent
