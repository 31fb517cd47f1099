#include "tests/workstation/workstation_support.h"

#include <cstdlib>
#include <fstream>
#include <thread>

namespace attache::testing {

TestPinentry::TestPinentry() {
    setenv("ATTACHE_TEST_PINENTRY_DIR", dir_.path().c_str(), 1);
}

TestPinentry::~TestPinentry() {
    unsetenv("ATTACHE_TEST_PINENTRY_DIR");
}

void TestPinentry::answer(std::initializer_list<std::string> answers) {
    std::ofstream out(dir_ / "answers", std::ios::app);
    for (const auto& a : answers)
        out << a << "\n";
}

std::string TestPinentry::shown() const {
    try {
        return read_file(dir_ / "shown");
    } catch (...) {
        return {};
    }
}

int TestPinentry::prompts() const {
    try {
        return std::stoi(read_file(dir_ / "prompts"));
    } catch (...) {
        return 0;
    }
}

protocol::Reply sign_with(AgentFixture& agent, const std::string& key_id) {
    try {
        auto c = agent.client();
        protocol::SignRequest s;
        s.key = key_id;
        s.scheme = protocol::SignScheme::ecdsa;
        s.data = to_bytes("hello");
        auto r = c.call(s);
        if (!r)
            return protocol::ErrorReply{protocol::ErrorCode::internal, 0, 0, r.error().message()};
        return std::move(*r);
    } catch (const std::exception& e) {
        return protocol::ErrorReply{protocol::ErrorCode::internal, 0, 0, e.what()};
    }
}

const protocol::ErrorReply* error_of(const protocol::Reply& reply) {
    return std::get_if<protocol::ErrorReply>(&reply);
}

protocol::TokenStatus token_status(AgentFixture& agent, const std::string& label) {
    auto reply = agent.client().call(protocol::StatusRequest{});
    if (!reply)
        throw std::runtime_error(reply.error().message());
    protocol::TokenStatus found;
    bool any = false;
    for (const auto& t : std::get<protocol::StatusReply>(*reply).tokens) {
        if (t.label == label && (!any || t.present)) {
            found = t;
            any = true;
        }
    }
    if (!any)
        throw std::runtime_error("no token labelled " + label);
    return found;
}

}  // namespace attache::testing
