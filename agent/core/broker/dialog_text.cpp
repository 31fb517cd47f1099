#include "agent/core/broker/dialog_text.h"

namespace attache::agent {
namespace {

std::string operation_words(OperationKind kind) {
    switch (kind) {
        case OperationKind::sign:
            return "a signature";
        case OperationKind::decrypt:
            return "a decryption";
        case OperationKind::derive:
            return "a key agreement (ECDH)";
        case OperationKind::unlock:
            return "unlocking the card";
        case OperationKind::lock:
            return "locking the card";
        case OperationKind::list:
            return "listing the keys";
    }
    return "an operation";
}

std::string session_words(const ClientFacts& client) {
    switch (client.session) {
        case SessionKind::local:
            return "your local session" +
                   (client.session_id.empty() ? std::string() : " (" + client.session_id + ")");
        case SessionKind::remote:
            return "a REMOTE session" +
                   (client.session_id.empty() ? std::string() : " (" + client.session_id + ")");
        case SessionKind::none:
            break;
    }
    return "no login session";
}

std::string channel_words(const Context& context) {
    switch (context.channel) {
        case Channel::native:
            return "the agent's socket";
        case Channel::forwarding_module:
            return "the PKCS#11 module";
        case Channel::ssh:
            return context.ssh.forwarded ? "the SSH agent socket, FORWARDED from another machine"
                                         : "the SSH agent socket";
        case Channel::logind:
            return "logind";
    }
    return "?";
}

}  // namespace

std::string describe_requester(const ClientFacts& client) {
    std::string s = client.exe + " (pid " + std::to_string(client.pid) + ")";
    if (!client.parents.empty()) {
        const ProcessLink& parent = client.parents.front();
        s += ", started by " + parent.exe + " (pid " + std::to_string(parent.pid) + ")";
    }
    return s;
}

PinPromptRequest pin_request_for(const Context& context) {
    PinPromptRequest r;
    r.requester = describe_requester(context.client);
    r.remote_session = context.client.session == SessionKind::remote;
    return r;
}

ConfirmRequest confirmation_for(const Chain& chain) {
    const ClientFacts& client = chain.context.client;
    ConfirmRequest r;
    r.title = "Allow " + operation_words(chain.kind) + " with your card?";
    std::string d = "Program: " + client.exe + " (pid " + std::to_string(client.pid) + ")\n";
    for (size_t i = 0; i < client.parents.size() && i < 3; ++i) {
        d += (i == 0 ? "Started by: " : "  then by: ") + client.parents[i].exe + " (pid " +
             std::to_string(client.parents[i].pid) + ")\n";
    }
    d += "Session: " + session_words(client) + "\n";
    d += "Through: " + channel_words(chain.context) + "\n";
    if (chain.match.key) {
        const std::string label =
            chain.match.key->label.empty() ? chain.match.key->id : chain.match.key->label;
        d += "Key: '" + label + "'";
        if (chain.match.token)
            d += " on the card " + chain.match.token->display_name();
        d += "\n";
    }
    d += "Operation: " + operation_words(chain.kind) + "\n";
    if (chain.context.channel == Channel::ssh) {
        if (!chain.context.ssh.destination.empty())
            d += "SSH server (verified): " + chain.context.ssh.destination + "\n";
        if (!chain.context.ssh.sshsig_namespace.empty())
            d += "Signature namespace: " + chain.context.ssh.sshsig_namespace + "\n";
    }
    r.description = std::move(d);
    return r;
}

ConfirmRequest final_try_confirmation(const Context& context, const Token& token) {
    ConfirmRequest r;
    r.title = "Last PIN try on your card";
    r.description = "The card " + token.display_name() +
                    " has ONE PIN try left: a wrong PIN blocks it, and only an administrator "
                    "can unblock it.\n" +
                    "Requested by: " + describe_requester(context.client) + "\n" +
                    "Session: " + session_words(context.client) + "\n" +
                    "Try the PIN that was given?";
    r.ok = "Try the PIN";
    r.cancel = "Do not try";
    return r;
}

}  // namespace attache::agent
