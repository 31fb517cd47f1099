#pragma once

// The broker in-process: a SoftHSM2 token with keys, a TokenManager on it, a recording audit
// sink and a scripted prompt. No agent process, no socket.

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/broker/broker.h"
#include "pkcs11/keygen.h"
#include "tests/support/softhsm.h"

namespace attache::testing {

class RecordingAuditSink : public agent::AuditSink {
  public:
    void record(const agent::AuditRecord& r) override;
    std::vector<agent::AuditRecord> records() const;
    agent::AuditRecord last() const;

  private:
    mutable std::mutex mutex_;
    std::vector<agent::AuditRecord> records_;
};

// Answers PIN and confirmation dialogs from a script, and keeps what it was shown.
class ScriptedPrompt : public agent::UserPrompt {
  public:
    void answer_pin(std::string pin) { pins_.push_back(std::move(pin)); }
    void answer_confirm(agent::ConfirmAnswer a) { confirms_.push_back(a); }

    Result<agent::PinPromptAnswer> ask_pin(const agent::PinPromptRequest& request,
                                           agent::PromptCancel& cancel) override;
    Result<agent::ConfirmAnswer> confirm(const agent::ConfirmRequest& request,
                                         agent::PromptCancel& cancel) override;

    std::vector<agent::PinPromptRequest> pin_requests;
    std::vector<agent::ConfirmRequest> confirm_requests;

  private:
    std::deque<std::string> pins_;
    std::deque<agent::ConfirmAnswer> confirms_;
};

struct FixtureKey {
    p11::KeyAlgorithm algorithm;
    std::string label;
    p11::KeyUsage usage;
};

class BrokerFixture {
  public:
    BrokerFixture();
    ~BrokerFixture();

    // Adds a token with `keys`, then starts the token manager and the broker.
    void start(const std::vector<FixtureKey>& keys,
               std::shared_ptr<const agent::Policy> policy = nullptr, bool with_prompt = true);

    agent::Broker& broker() { return *broker_; }
    agent::TokenManager& tokens() { return *tokens_; }
    RecordingAuditSink& audit() { return audit_; }
    ScriptedPrompt& prompt() { return *prompt_; }
    // The id of the key labelled `label`.
    std::string key_id(const std::string& label) const;

    // A context for a native client: this process.
    agent::Context context(agent::Channel channel = agent::Channel::native) const;

    // Managed mode's card holders (agent/core/card_holders.h); set before start(). Null: none.
    std::shared_ptr<agent::CardHolders> holders;

    agent::Performed unlock(const std::string& pin);
    agent::Performed sign(const std::string& key, agent::Context context);

  private:
    SoftHsm hsm_;
    RecordingAuditSink audit_;
    std::shared_ptr<ScriptedPrompt> prompt_ = std::make_shared<ScriptedPrompt>();
    std::unique_ptr<agent::TokenManager> tokens_;
    std::unique_ptr<agent::Broker> broker_;
};

Secret secret_of(const std::string& s);

}  // namespace attache::testing
