// protocol::Client against a fake agent on a Unix socket: the handshake, and every way a broken
// or hostile agent can answer ends in an error, never a crash or a hang.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <functional>
#include <thread>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace attache::protocol {
namespace {

// Serves one connection: reads requests and answers each with what `answer` returns for it
// (raw bytes, written as given), until `answer` returns nullopt, or after the first answer when
// `once`; then closes.
class FakeAgent {
  public:
    using Answer = std::function<std::optional<Bytes>(const RequestFrame&)>;

    explicit FakeAgent(Answer answer, bool once = false) : answer_(std::move(answer)), once_(once) {
        path_ = (dir_ / "agent.sock").string();
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        listener_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        EXPECT_TRUE(listener_.valid());
        EXPECT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(listen(listener_.get(), 1), 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeAgent() { thread_.join(); }

    const std::string& path() const { return path_; }

  private:
    void serve() {
        UniqueFd conn(accept(listener_.get(), nullptr, nullptr));
        if (!conn.valid())
            return;
        for (;;) {
            auto body = stream::read_frame(conn.get(), 10'000, 10'000);
            if (!body)
                return;
            auto request = decode_request(*body);
            if (!request)
                return;
            auto out = answer_(*request);
            if (!out || !stream::write_all(conn.get(), *out) || once_)
                return;
        }
    }

    attache::testing::TempDir dir_{"attache-client-test"};
    std::string path_;
    UniqueFd listener_;
    Answer answer_;
    bool once_;
    std::thread thread_;
};

Bytes hello_reply(uint32_t id, uint32_t version = kProtocolVersion) {
    return encode_reply(id, HelloReply{version, "fake-agent 9.9"});
}

// A frame around raw body bytes.
Bytes frame_of(const Bytes& body) {
    Bytes f = {static_cast<uint8_t>(body.size() >> 24), static_cast<uint8_t>(body.size() >> 16),
               static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
    f.insert(f.end(), body.begin(), body.end());
    return f;
}

TEST(ProtocolClient, HandshakeAndCall) {
    FakeAgent agent([](const RequestFrame& f) -> std::optional<Bytes> {
        if (std::holds_alternative<HelloRequest>(f.request)) {
            EXPECT_EQ(std::get<HelloRequest>(f.request).client, "client-test");
            return hello_reply(f.id);
        }
        if (const auto* r = std::get_if<RandomRequest>(&f.request))
            return encode_reply(f.id, RandomReply{Bytes(r->length, 0xab)});
        return std::nullopt;
    });
    auto client = Client::connect(agent.path(), "client-test");
    ASSERT_TRUE(client) << client.error().message();
    EXPECT_EQ(client->agent_version(), "fake-agent 9.9");
    auto reply = client->call(RandomRequest{5});
    ASSERT_TRUE(reply) << reply.error().message();
    ASSERT_TRUE(std::holds_alternative<RandomReply>(*reply));
    EXPECT_EQ(std::get<RandomReply>(*reply).data, Bytes(5, 0xab));
    // The fake agent closes on anything else: an error, not a crash.
    EXPECT_FALSE(client->call(StatusRequest{}));
}

TEST(ProtocolClient, AgentErrorReplyIsASuccessfulCall) {
    FakeAgent agent([](const RequestFrame& f) -> std::optional<Bytes> {
        if (std::holds_alternative<HelloRequest>(f.request))
            return hello_reply(f.id);
        return encode_reply(f.id, ErrorReply{ErrorCode::unknown_key, 0, 0, "no such key"});
    });
    auto client = Client::connect(agent.path(), "t");
    ASSERT_TRUE(client) << client.error().message();
    auto reply = client->call(LockRequest{});
    ASSERT_TRUE(reply) << reply.error().message();
    ASSERT_TRUE(std::holds_alternative<ErrorReply>(*reply));
    EXPECT_EQ(std::get<ErrorReply>(*reply).message, "no such key");
}

TEST(ProtocolClient, HandshakeRefused) {
    FakeAgent agent([](const RequestFrame& f) -> std::optional<Bytes> {
        return encode_reply(f.id, ErrorReply{ErrorCode::unsupported_version, 0, 0, "too old"});
    });
    auto client = Client::connect(agent.path(), "t");
    ASSERT_FALSE(client);
    EXPECT_NE(client.error().message().find("too old"), std::string::npos)
        << client.error().message();
}

TEST(ProtocolClient, VersionMismatch) {
    FakeAgent agent([](const RequestFrame& f) -> std::optional<Bytes> {
        return hello_reply(f.id, kProtocolVersion + 1);
    });
    EXPECT_FALSE(Client::connect(agent.path(), "t"));
}

TEST(ProtocolClient, HandshakeAnsweredWithAnotherReply) {
    FakeAgent agent([](const RequestFrame& f) -> std::optional<Bytes> {
        return encode_reply(f.id, LockReply{1});
    });
    EXPECT_FALSE(Client::connect(agent.path(), "t"));
}

TEST(ProtocolClient, ReplyToAnotherRequest) {
    FakeAgent agent(
        [](const RequestFrame& f) -> std::optional<Bytes> { return hello_reply(f.id + 1); });
    EXPECT_FALSE(Client::connect(agent.path(), "t"));
}

TEST(ProtocolClient, HostileReplies) {
    // Each answer to the handshake is broken: the client reports an error.
    Bytes hello_body = hello_reply(1);
    hello_body.erase(hello_body.begin(), hello_body.begin() + 4);
    Bytes truncated(hello_body.begin(), hello_body.end() - 1);
    Bytes trailing = hello_body;
    trailing.push_back(0);
    Bytes lying = hello_body;
    lying[9] = 0xff;  // the agent string's length: 0xff......
    const std::vector<Bytes> answers = {
        frame_of(truncated),
        frame_of(trailing),
        frame_of(lying),
        frame_of(Bytes{0x8a, 0, 0, 0, 1}),              // unknown reply type
        frame_of(Bytes{0x01, 0, 0, 0, 1, 0, 0, 0, 1}),  // a request, not a reply
        Bytes{0, 0, 0, 0},                              // empty frame
        Bytes{0xff, 0xff, 0xff, 0xff},                  // oversize frame
        Bytes{0, 0, 0, 20, 0x81},                       // closes mid-frame
        Bytes{0, 0},                                    // closes mid-prefix
        Bytes{},                                        // closes without a byte
    };
    for (size_t i = 0; i < answers.size(); ++i) {
        SCOPED_TRACE("answer " + std::to_string(i));
        FakeAgent agent([&](const RequestFrame&) -> std::optional<Bytes> { return answers[i]; },
                        /*once=*/true);
        auto client = Client::connect(agent.path(), "t");
        EXPECT_FALSE(client);
    }
}

TEST(ProtocolClient, NothingListening) {
    attache::testing::TempDir dir("attache-client-test");
    auto client = Client::connect((dir / "agent.sock").string(), "t");
    ASSERT_FALSE(client);
    EXPECT_NE(client.error().message().find("not running"), std::string::npos)
        << client.error().message();
}

}  // namespace
}  // namespace attache::protocol
