#include "tests/core/broker_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"
#include "pkcs11/module.h"

namespace attache::testing {

Secret secret_of(const std::string& s) {
    Secret out;
    Secret::from(s, out);
    return out;
}

void RecordingAuditSink::record(const agent::AuditRecord& r) {
    std::lock_guard lock(mutex_);
    records_.push_back(r);
}

std::vector<agent::AuditRecord> RecordingAuditSink::records() const {
    std::lock_guard lock(mutex_);
    return records_;
}

agent::AuditRecord RecordingAuditSink::last() const {
    std::lock_guard lock(mutex_);
    return records_.empty() ? agent::AuditRecord{} : records_.back();
}

Result<agent::PinPromptAnswer> ScriptedPrompt::ask_pin(const agent::PinPromptRequest& request,
                                                       agent::PromptCancel&) {
    pin_requests.push_back(request);
    if (pins_.empty())
        return agent::agent_error(agent::ErrorCode::cancelled, "the script has no PIN left");
    agent::PinPromptAnswer a;
    a.pin = secret_of(pins_.front());
    a.final_try_confirmed = false;
    pins_.pop_front();
    return a;
}

Result<agent::ConfirmAnswer> ScriptedPrompt::confirm(const agent::ConfirmRequest& request,
                                                     agent::PromptCancel&) {
    confirm_requests.push_back(request);
    if (confirms_.empty())
        return agent::ConfirmAnswer::denied;
    auto a = confirms_.front();
    confirms_.pop_front();
    return a;
}

BrokerFixture::BrokerFixture() = default;

BrokerFixture::~BrokerFixture() {
    broker_.reset();
    if (tokens_)
        tokens_->stop();
}

void BrokerFixture::start(const std::vector<FixtureKey>& keys,
                          std::shared_ptr<const agent::Policy> policy, bool with_prompt) {
    const CK_SLOT_ID slot = hsm_.add_token("alice");
    {
        auto module = p11::Module::load(SoftHsm::module_path());
        ASSERT_TRUE(module) << module.error().message();
        auto session = module->open_session(slot, true);
        ASSERT_TRUE(session) << session.error().message();
        Secret pin = secret_of(SoftHsm::kUserPin);
        ASSERT_TRUE(session->login(CKU_USER, &pin));
        for (const auto& k : keys) {
            p11::KeyPairSpec spec;
            spec.algorithm = k.algorithm;
            spec.usage = k.usage;
            spec.label = k.label;
            auto r = p11::generate_key_pair(*session, spec);
            ASSERT_TRUE(r) << r.error().message();
        }
        (void)session->logout();
    }
    agent::Config config;
    config.modules = {SoftHsm::module_path()};
    config.module_helper = ATTACHE_MODULE_HELPER_PATH;  // the default backend, a helper process
    tokens_ = std::make_unique<agent::TokenManager>(config, [](const std::string&) {});
    ASSERT_TRUE(tokens_->start());
    if (!policy) {
        // Everything allowed unless a test gives its own rules.
        auto allow =
            agent::Policy::parse("[[rule]]\nname = \"all\"\naction = \"allow\"\n", "test policy");
        ASSERT_TRUE(allow) << allow.error().message();
        policy = std::make_shared<const agent::Policy>(std::move(*allow));
    }
    broker_ = std::make_unique<agent::Broker>(
        agent::BrokerParts{*tokens_, std::move(policy), audit_,
                           with_prompt ? std::shared_ptr<agent::UserPrompt>(prompt_) : nullptr,
                           true, agent::proc_start_time, holders});
}

std::string BrokerFixture::key_id(const std::string& label) const {
    for (const auto& t : tokens_->tokens()) {
        for (const auto& k : t->keys()) {
            if (k->label == label)
                return k->id;
        }
    }
    ADD_FAILURE() << "no key labelled " << label;
    return {};
}

agent::Context BrokerFixture::context(agent::Channel channel) const {
    agent::Context c;
    c.client.pid = getpid();
    c.client.uid = getuid();
    c.client.gid = getgid();
    c.client.exe = "/usr/bin/test-client";
    c.client.start_time = agent::proc_start_time(getpid());
    c.client.session = agent::SessionKind::local;
    c.client.session_id = "3";
    c.channel = channel;
    return c;
}

agent::Performed BrokerFixture::unlock(const std::string& pin) {
    return broker_->perform(agent::UnlockOperation{"", secret_of(pin)}, context());
}

agent::Performed BrokerFixture::sign(const std::string& key, agent::Context context) {
    agent::SignOperation op;
    op.key = key;
    op.scheme = protocol::SignScheme::ecdsa;
    op.hash = p11::Hash::sha256;
    op.data = {1, 2, 3};
    return broker_->perform(std::move(op), context);
}

}  // namespace attache::testing
