// Hostile and concurrent clients: malformed frames, other users, many clients at once.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "pkcs11/operations.h"
#include "pkcs11/public_key.h"
#include "tests/agent/agent_fixture.h"

namespace attache::testing {
namespace {

// Reads one reply; nullopt when the agent closed the connection.
std::optional<protocol::Reply> read_reply(int fd) {
    auto body = stream::read_frame(fd, 20'000, 20'000);
    if (!body)
        return std::nullopt;
    auto frame = protocol::decode_reply(*body);
    if (!frame)
        return std::nullopt;
    return std::move(frame->reply);
}

Bytes frame(const Bytes& body) {
    Bytes f{uint8_t(body.size() >> 24), uint8_t(body.size() >> 16), uint8_t(body.size() >> 8),
            uint8_t(body.size())};
    f.insert(f.end(), body.begin(), body.end());
    return f;
}

class RobustnessTest : public ::testing::Test {
  protected:
    void SetUp() override {
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-a", {.sign = true}},
                                   {p11::KeyAlgorithm::ec_p256, "ec-b", {.sign = true}}});
        agent_.start();
        agent_.unlock();
    }

    // After each abuse, a fresh client still gets served.
    void expect_still_serving() {
        auto c = agent_.client();
        auto r = c.call(protocol::SignRequest{agent_.key("ec-a").id, protocol::SignScheme::ecdsa,
                                              p11::Hash::sha256, false, 0, true,
                                              to_bytes("still here")});
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(std::holds_alternative<protocol::SignReply>(*r));
    }

    // Sends the handshake on a raw connection.
    void hello(int fd) {
        ASSERT_TRUE(stream::write_all(fd, protocol::encode_request(1, protocol::HelloRequest{})));
        auto r = read_reply(fd);
        ASSERT_TRUE(r && std::holds_alternative<protocol::HelloReply>(*r));
    }

    AgentFixture agent_;
};

TEST_F(RobustnessTest, OversizedFrameClosesTheConnection) {
    auto fd = raw_connect(agent_.socket());
    const Bytes prefix{0x7f, 0xff, 0xff, 0xff};
    ASSERT_TRUE(stream::write_all(fd.get(), prefix));
    EXPECT_TRUE(closed_by_agent(fd.get()));
    expect_still_serving();
}

TEST_F(RobustnessTest, ZeroLengthFrameClosesTheConnection) {
    auto fd = raw_connect(agent_.socket());
    ASSERT_TRUE(stream::write_all(fd.get(), Bytes{0, 0, 0, 0}));
    EXPECT_TRUE(closed_by_agent(fd.get()));
    expect_still_serving();
}

TEST_F(RobustnessTest, TruncatedFrameThenCloseDoesNotDisturb) {
    auto fd = raw_connect(agent_.socket());
    ASSERT_TRUE(stream::write_all(fd.get(), Bytes{0, 0, 0, 100, 1, 2, 3}));
    fd.reset();
    expect_still_serving();
}

TEST_F(RobustnessTest, UnknownTypeAndTrailingGarbageGetErrorsAndTheConnectionStaysUsable) {
    auto fd = raw_connect(agent_.socket());
    hello(fd.get());
    const Bytes bad_bodies[] = {
        {0x42, 0, 0, 0, 7},                 // unknown type
        {0x02, 0, 0, 0, 8, 0xde, 0xad},     // status + trailing garbage
        {0x04, 0, 0, 0, 9, 0, 0, 0, 0xff},  // sign with a lying string length
        {0x04},                             // truncated header
    };
    for (const Bytes& body : bad_bodies) {
        ASSERT_TRUE(stream::write_all(fd.get(), frame(body)));
        auto r = read_reply(fd.get());
        ASSERT_TRUE(r.has_value());
        auto* e = std::get_if<protocol::ErrorReply>(&*r);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->code, protocol::ErrorCode::bad_request);
    }
    // The same connection still serves a good request.
    ASSERT_TRUE(
        stream::write_all(fd.get(), protocol::encode_request(5, protocol::StatusRequest{})));
    auto r = read_reply(fd.get());
    ASSERT_TRUE(r && std::holds_alternative<protocol::StatusReply>(*r));
    expect_still_serving();
}

TEST_F(RobustnessTest, RequestsBeforeHelloAreRefused) {
    auto fd = raw_connect(agent_.socket());
    ASSERT_TRUE(
        stream::write_all(fd.get(), protocol::encode_request(1, protocol::ListKeysRequest{})));
    auto r = read_reply(fd.get());
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(std::holds_alternative<protocol::ErrorReply>(*r));
}

TEST_F(RobustnessTest, SixteenClientsTimesTwoHundredSignaturesAllVerify) {
    constexpr int kClients = 16;
    constexpr int kSignatures = 200;
    const protocol::KeyEntry keys[2] = {agent_.key("ec-a"), agent_.key("ec-b")};
    std::atomic<int> verified{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t) {
        threads.emplace_back([&, t] {
            const auto& key = keys[t % 2];
            auto pkey = p11::pkey_from_spki(key.spki);
            auto client = protocol::Client::connect(agent_.socket(), "load");
            if (!pkey || !client) {
                failures += kSignatures;
                return;
            }
            for (int i = 0; i < kSignatures; ++i) {
                const std::string data =
                    "client " + std::to_string(t) + " message " + std::to_string(i);
                auto r = client->call(protocol::SignRequest{key.id, protocol::SignScheme::ecdsa,
                                                            p11::Hash::sha256, false, 0, true,
                                                            to_bytes(data)});
                auto* sig = r ? std::get_if<protocol::SignReply>(&*r) : nullptr;
                if (sig == nullptr) {
                    ++failures;
                    continue;
                }
                EVP_MD_CTX* ctx = EVP_MD_CTX_new();
                bool good =
                    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey->get()) == 1 &&
                    EVP_DigestVerify(ctx, sig->signature.data(), sig->signature.size(),
                                     reinterpret_cast<const uint8_t*>(data.data()),
                                     data.size()) == 1;
                EVP_MD_CTX_free(ctx);
                good ? ++verified : ++failures;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(verified.load(), kClients * kSignatures);
}

class OtherUserTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (getuid() != 0)
            GTEST_SKIP() << "needs root to run the agent as another user";
        passwd* pw = getpwnam("nobody");
        if (pw == nullptr)
            GTEST_SKIP() << "no user 'nobody'";
        user_ = pw->pw_uid;
        if (const std::string why = unreachable_for(agent_.dir().path().parent_path(), user_);
            !why.empty())
            GTEST_SKIP() << why;
        agent_.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec", {.sign = true}}});
    }

    // Connects as `uid` in a child process; true when the agent answered the handshake.
    bool served_as(uid_t uid) {
        pid_t pid = fork();
        if (pid == 0) {
            if (uid != getuid() && (setgid(uid) != 0 || setuid(uid) != 0))
                _exit(3);
            auto c = protocol::Client::connect(agent_.socket(), "other-user");
            _exit(c ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }

    uid_t user_ = 0;
    AgentFixture agent_;
};

TEST_F(OtherUserTest, RootIsRefusedWhileTheOwnerIsServed) {
    agent_.start({.run_as = user_});
    for (int i = 0; i < 200 && !served_as(user_); ++i)
        usleep(20'000);
    EXPECT_TRUE(served_as(user_)) << agent_.log();
    EXPECT_FALSE(served_as(0)) << "a client of another uid (root) must be refused";
    EXPECT_TRUE(served_as(user_)) << "the owner keeps working";
    EXPECT_NE(agent_.log().find("refused a connection from uid 0"), std::string::npos)
        << agent_.log();
}

TEST_F(OtherUserTest, RootIsServedWhenTheConfigurationAllowsIt) {
    agent_.start({.extra_config = "allow_root = true", .run_as = user_});
    for (int i = 0; i < 200 && !served_as(user_); ++i)
        usleep(20'000);
    EXPECT_TRUE(served_as(0)) << agent_.log();
}

}  // namespace
}  // namespace attache::testing
