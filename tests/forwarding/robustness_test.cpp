// The module inside applications that fork, run threads, outlive their agent or lose their
// card, and face a hostile agent socket.

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"
#include "pkcs11/agent_protocol/unique_fd.h"
#include "tests/forwarding/forwarding_fixture.h"
#include "tests/support/eventually.h"

namespace attache::testing {
namespace {

Bytes text(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

// Verifies an ECDSA-with-SHA-256 signature in PKCS#11 format (r||s).
bool ecdsa_ok(EVP_PKEY* key, const Bytes& data, const Bytes& sig) {
    if (sig.size() != 64)
        return false;
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
    const bool ok =
        EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(len), data.data(), data.size()) == 1;
    OPENSSL_free(der);
    return ok;
}

// Signs `count` distinct messages on a session of its own and checks every signature
// against its own message: a reply meant for another request would not verify. Returns the
// number of failures.
int sign_many(CK_FUNCTION_LIST& p11, CK_SLOT_ID slot, EVP_PKEY* pub, const std::string& who,
              int count, const std::atomic<bool>* stop = nullptr) {
    CK_SESSION_HANDLE s = 0;
    if (p11.C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK)
        return 1000;
    const CK_RV login = p11.C_Login(s, CKU_USER, nullptr, 0);
    if (login != CKR_OK && login != CKR_USER_ALREADY_LOGGED_IN)
        return 1001;
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    char label[] = "ec-sign";
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &klass, sizeof klass}, {CKA_LABEL, label, 7}};
    CK_OBJECT_HANDLE key = 0;
    CK_ULONG n = 0;
    if (p11.C_FindObjectsInit(s, t, 2) != CKR_OK || p11.C_FindObjects(s, &key, 1, &n) != CKR_OK ||
        n != 1 || p11.C_FindObjectsFinal(s) != CKR_OK) {
        return 1002;
    }
    int failures = 0;
    for (int i = 0; stop ? !stop->load() : i < count; ++i) {
        Bytes data = text(who + " message " + std::to_string(i));
        CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
        Bytes sig(64);
        CK_ULONG len = sig.size();
        const CK_RV init = p11.C_SignInit(s, &m, key);
        const CK_RV rv =
            init == CKR_OK ? p11.C_Sign(s, data.data(), data.size(), sig.data(), &len) : init;
        if (rv != CKR_OK || !ecdsa_ok(pub, data, sig)) {
            if (failures++ == 0)
                std::fprintf(stderr, "%s: signature %d: rv 0x%lx\n", who.c_str(), i, rv);
        }
    }
    p11.C_CloseSession(s);
    return failures;
}

class RobustnessTest : public ForwardingTest {};

class ForkTest : public RobustnessTest, public ::testing::WithParamInterface<int> {};

// The system call a thread of this process is blocked in (/proc/self/task/TID/syscall), or -1
// while it runs.
long blocked_in_syscall(pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
    std::string first;
    if (!(in >> first) || first == "running")
        return -1;
    return std::strtol(first.c_str(), nullptr, 10);
}

// Waits for a child at most `limit`, then kills it (by its pid): a child that hangs fails the
// test instead of hanging the suite. The exit status, or nullopt when it had to be killed.
std::optional<int> wait_for_child(pid_t child, std::chrono::seconds limit) {
    int status = 0;
    if (eventually([&] { return waitpid(child, &status, WNOHANG) == child; }, limit))
        return status;
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return std::nullopt;
}

// fork() in a process whose other threads run: the child has only the forking thread, and
// every lock another thread held stays held. The module must cope with that (its own state is
// abandoned, never touched); the test must not add locks of its own. So the parent's
// in-flight request is parked where it holds no lock outside the module: its
// C_GenerateRandom waits in the agent (the fault token holds the call), its thread blocked in
// poll() for the reply. A thread still signing at the fork (the test's old shape) could hold
// ASan's allocator lock (GCC 12's runtime does not take it around fork()), and the child then
// blocked in its first malloc.
TEST_P(ForkTest, ChildReinitialisesAndSignsWhileTheParentSigns) {
    const int count = GetParam();
    start_agent({alice_token(false)}, {.fault_token = true});
    agent_.unlock();
    initialize();
    const CK_SLOT_ID slot = only_slot();
    const CK_SESSION_HANDLE parent_session = open_logged_in_session();
    PkeyPtr pub = public_key("ec-sign");

    agent_.fault().reset_counts();
    agent_.fault().hang(faulttoken::Fn::C_GenerateRandom);
    std::atomic<pid_t> background_tid{0};
    std::atomic<CK_RV> background_rv{CKR_GENERAL_ERROR};
    std::thread background([&] {
        background_tid = gettid();
        CK_SESSION_HANDLE s = 0;
        if (p11().C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK)
            return;
        CK_BYTE random[32];
        background_rv = p11().C_GenerateRandom(s, random, sizeof random);
        p11().C_CloseSession(s);
    });
    // However the test ends, the parked request is released and its thread joined.
    struct Release {
        std::function<void()> release;
        ~Release() { release(); }
    } release{[&] {
        agent_.fault().clear_rules();
        background.join();
    }};
    const bool parked = eventually(
        [&] {
            if (agent_.fault().count(faulttoken::Fn::C_GenerateRandom) != 1)
                return false;
            const long call = blocked_in_syscall(background_tid);
            return call == SYS_poll || call == SYS_ppoll;
        },
        std::chrono::seconds(30));
    ASSERT_TRUE(parked) << "the background request never waited in the agent";

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 0;
        CK_ULONG n = 0;
        // Until it initialises, the child has no module.
        if (p11().C_GetSlotList(CK_TRUE, nullptr, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 1;
        CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
        if (p11().C_SignInit(parent_session, &m, 1) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 2;
        CK_C_INITIALIZE_ARGS args{};
        args.flags = CKF_OS_LOCKING_OK;
        if (p11().C_Initialize(&args) != CKR_OK)
            _exit(4);
        if (p11().C_SignInit(parent_session, &m, 1) != CKR_SESSION_HANDLE_INVALID)
            code |= 8;
        if (const int f = sign_many(p11(), slot, pub.get(), "child", count); f != 0) {
            std::fprintf(stderr, "child: %d failed signatures\n", f);
            code |= 16;
        }
        p11().C_Finalize(nullptr);
        _exit(code);
    }
    const int parent_failures = sign_many(p11(), slot, pub.get(), "parent", count);
    const std::optional<int> status = wait_for_child(child, std::chrono::seconds(120));
    ASSERT_TRUE(status.has_value()) << "the child hung; killed after 120 s";
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_EQ(parent_failures, 0);
    // The parked request completes in the parent once the agent answers it.
    agent_.fault().clear_rules();
    EXPECT_TRUE(eventually([&] { return background_rv.load() == CKR_OK; }))
        << rv_text(background_rv.load());
    // The parent's own session still works.
    CK_SESSION_INFO info{};
    EXPECT_EQ(p11().C_GetSessionInfo(parent_session, &info), CKR_OK);
}

INSTANTIATE_TEST_SUITE_P(Operations, ForkTest, ::testing::Values(32, 128));

TEST_F(RobustnessTest, EightThreadsSignConcurrentlyThroughOneModule) {
    start_agent();
    agent_.unlock();
    initialize();
    const CK_SLOT_ID slot = only_slot();
    PkeyPtr pub = public_key("ec-sign");
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            failures += sign_many(p11(), slot, pub.get(), "thread " + std::to_string(t), 32);
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST_F(RobustnessTest, WithoutAnAgentThereAreNoSlotsAndLaterItsTokensAppear) {
    start_agent();
    agent_.unlock();
    ASSERT_EQ(agent_.stop(), 0);
    initialize();  // the socket path exists no more
    EXPECT_TRUE(slots(true).empty());
    EXPECT_TRUE(slots(false).empty());
    agent_.start();
    EXPECT_EQ(slots(true).size(), 1u);
    CK_SLOT_ID event = 0;
    EXPECT_EQ(p11().C_WaitForSlotEvent(CKF_DONT_BLOCK, &event, nullptr), CKR_OK);
    EXPECT_EQ(event, only_slot());
}

TEST_F(RobustnessTest, AgentGoneGivesDeviceErrorAndARestartedAgentInvalidatesSessions) {
    start_agent();
    agent_.unlock();
    initialize();
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);
    ASSERT_EQ(agent_.stop(), 0);
    Bytes data = text("x"), sig(64);
    CK_ULONG len = sig.size();
    EXPECT_EQ(p11().C_Sign(s, data.data(), data.size(), sig.data(), &len), CKR_DEVICE_ERROR);

    // A new agent, not noticed by the module in between: the old session is stale.
    agent_.start();
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);  // no agent call yet
    EXPECT_EQ(p11().C_Sign(s, data.data(), data.size(), sig.data(), &len),
              CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_SESSION_HANDLE_INVALID);
    // New sessions work once the new agent is unlocked (it starts locked).
    const CK_SESSION_HANDLE fresh = open_session(only_slot());
    EXPECT_EQ(p11().C_Login(fresh, CKU_USER, nullptr, 0), CKR_FUNCTION_CANCELED);
    unsigned char pin[] = "123456";
    ASSERT_EQ(p11().C_Login(fresh, CKU_USER, pin, 6), CKR_OK);
    const CK_OBJECT_HANDLE key2 = find(fresh, CKO_PRIVATE_KEY, "ec-sign");
    ASSERT_NE(key2, CK_INVALID_HANDLE);
    EXPECT_EQ(sign(fresh, m, key2, data).size(), 64u);
}

TEST_F(RobustnessTest, LoginForwardsThePinOnceAndNeverRetries) {
    start_agent({alice_token(false)}, {.fault_token = true});
    initialize();
    const CK_SESSION_HANDLE s = open_session(only_slot());
    agent_.fault().reset_counts();
    // Locked, no PIN pad, no PIN given: nothing to try.
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_FUNCTION_CANCELED);
    EXPECT_EQ(agent_.fault().count(faulttoken::Fn::C_Login), 0u);
    unsigned char wrong[] = "000000";
    EXPECT_EQ(p11().C_Login(s, CKU_USER, wrong, 6), CKR_PIN_INCORRECT);
    EXPECT_EQ(agent_.fault().count(faulttoken::Fn::C_Login), 1u);
    unsigned char pin[] = "123456";
    EXPECT_EQ(p11().C_Login(s, CKU_USER, pin, 6), CKR_OK);
    EXPECT_EQ(agent_.fault().count(faulttoken::Fn::C_Login), 2u);
    unsigned char huge[300] = {};
    EXPECT_EQ(p11().C_Login(s, CKU_USER, huge, sizeof huge), CKR_PIN_LEN_RANGE);
    // A second application-level login is the agent's "already unlocked": no C_Login.
    ASSERT_EQ(p11().C_Logout(s), CKR_OK);
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_OK);
    EXPECT_EQ(agent_.fault().count(faulttoken::Fn::C_Login), 2u);
    // The agent locked by someone else: the application sees a public session again.
    ASSERT_EQ(agent_.cli({"lock"}).exit_code, 0);
    CK_SESSION_INFO info{};
    ASSERT_EQ(p11().C_GetSessionInfo(s, &info), CKR_OK);
    EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
}

TEST_F(RobustnessTest, CardRemovalAndReturn) {
    start_agent({alice_token(false)}, {.fault_token = true});
    agent_.unlock();
    initialize();
    const CK_SLOT_ID slot = only_slot();
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key = find(s, CKO_PRIVATE_KEY, "ec-sign");
    CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
    ASSERT_EQ(p11().C_SignInit(s, &m, key), CKR_OK);

    agent_.fault().set_absent(hsm_slots_.at("alice"));
    // Wait until the agent has seen it (its own poll), without asking the module.
    for (int i = 0; i < 200; ++i) {
        auto st = agent_.cli({"status", "--json"});
        if (st.out.find("\"present\": false") != std::string::npos)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Bytes data = text("x"), sig(64);
    CK_ULONG len = sig.size();
    EXPECT_EQ(p11().C_Sign(s, data.data(), data.size(), sig.data(), &len), CKR_DEVICE_REMOVED);
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_DEVICE_REMOVED);
    CK_TOKEN_INFO ti{};
    EXPECT_EQ(p11().C_GetTokenInfo(slot, &ti), CKR_TOKEN_NOT_PRESENT);
    CK_SESSION_HANDLE other = 0;
    EXPECT_EQ(p11().C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &other),
              CKR_TOKEN_NOT_PRESENT);
    EXPECT_TRUE(slots(true).empty());
    EXPECT_EQ(slots(false), std::vector<CK_SLOT_ID>{slot});
    CK_SLOT_ID event = 0;
    EXPECT_EQ(p11().C_WaitForSlotEvent(CKF_DONT_BLOCK, &event, nullptr), CKR_OK);
    EXPECT_EQ(event, slot);
    EXPECT_EQ(p11().C_WaitForSlotEvent(CKF_DONT_BLOCK, &event, nullptr), CKR_NO_EVENT);

    // Back in: an event from a blocking wait, the same slot, a locked token, old sessions gone.
    std::thread inserter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        agent_.fault().set_present(faulttoken::kAnySlot);
    });
    event = 0;
    EXPECT_EQ(p11().C_WaitForSlotEvent(0, &event, nullptr), CKR_OK);
    inserter.join();
    EXPECT_EQ(event, slot);
    EXPECT_EQ(p11().C_SignInit(s, &m, key), CKR_SESSION_HANDLE_INVALID);
    const CK_SESSION_HANDLE again = open_session(slot);
    unsigned char pin[] = "123456";
    ASSERT_EQ(p11().C_Login(again, CKU_USER, pin, 6), CKR_OK);
    EXPECT_EQ(sign(again, m, find(again, CKO_PRIVATE_KEY, "ec-sign"), data).size(), 64u);
}

TEST_F(RobustnessTest, FinaliseWakesABlockedSlotEventWait) {
    start_agent({alice_token(false)});
    initialize();
    std::atomic<CK_RV> rv{CKR_OK};
    std::thread waiter([&] {
        CK_SLOT_ID slot = 0;
        rv = p11().C_WaitForSlotEvent(0, &slot, nullptr);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    finalize();
    waiter.join();
    EXPECT_EQ(rv.load(), static_cast<CK_RV>(CKR_CRYPTOKI_NOT_INITIALIZED));
}

TEST_F(RobustnessTest, HiddenKeyTypesAreNotShown) {
    start_agent();
    agent_.unlock();
    setenv("ATTACHE_PKCS11_HIDE", "ed25519", 1);
    initialize();
    unsetenv("ATTACHE_PKCS11_HIDE");
    const CK_SESSION_HANDLE s = open_logged_in_session();
    EXPECT_EQ(find(s, CKO_PRIVATE_KEY, "ed-sign"), CK_INVALID_HANDLE);
    EXPECT_EQ(find(s, CKO_PUBLIC_KEY, "ed-sign"), CK_INVALID_HANDLE);
    EXPECT_EQ(find(s, CKO_CERTIFICATE, "ed-sign"), CK_INVALID_HANDLE);
    EXPECT_NE(find(s, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
    CK_MECHANISM_INFO info{};
    EXPECT_EQ(p11().C_GetMechanismInfo(only_slot(), CKM_EDDSA, &info), CKR_MECHANISM_INVALID);
    finalize();

    // The same from the configuration file, for this program only.
    const std::string config =
        write("pkcs11.toml", "[program." + std::string(program_invocation_short_name) +
                                 "]\nhide_key_types = [\"ed25519\", \"rsa\"]\n");
    setenv("ATTACHE_PKCS11_CONFIG", config.c_str(), 1);
    initialize();
    unsetenv("ATTACHE_PKCS11_CONFIG");
    const CK_SESSION_HANDLE s2 = open_logged_in_session();
    EXPECT_EQ(find(s2, CKO_PRIVATE_KEY, "ed-sign"), CK_INVALID_HANDLE);
    EXPECT_EQ(find(s2, CKO_PRIVATE_KEY, "rsa-sign"), CK_INVALID_HANDLE);
    EXPECT_NE(find(s2, CKO_PRIVATE_KEY, "ec-sign"), CK_INVALID_HANDLE);
}

// A socket that answers the handshake and then whatever a test wants: the module must fail
// calls, never crash or hang on lies.
class HostileAgent {
  public:
    using Answer = std::function<Bytes(uint32_t id, const protocol::Request& request)>;

    HostileAgent(const std::string& path, Answer answer) : answer_(std::move(answer)) {
        listener_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        listen(listener_.get(), 16);
        thread_ = std::thread([this] { serve(); });
    }
    ~HostileAgent() {
        stop_ = true;
        shutdown(listener_.get(), SHUT_RDWR);
        thread_.join();
    }

  private:
    void serve() {
        while (!stop_) {
            UniqueFd c(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c.valid())
                return;
            for (;;) {
                auto body = stream::read_frame(c.get(), 2000, 2000);
                if (!body)
                    break;
                auto request = protocol::decode_request(*body);
                if (!request)
                    break;
                Bytes reply;
                if (std::holds_alternative<protocol::HelloRequest>(request->request)) {
                    reply =
                        protocol::encode_reply(request->id, protocol::HelloReply{1, "hostile 0.0"});
                } else {
                    reply = answer_(request->id, request->request);
                }
                if (!stream::write_all(c.get(), reply))
                    break;
            }
        }
    }

    UniqueFd listener_;
    Answer answer_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

Bytes frame(const Bytes& body) {
    Bytes f = {static_cast<uint8_t>(body.size() >> 24), static_cast<uint8_t>(body.size() >> 16),
               static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
    f.insert(f.end(), body.begin(), body.end());
    return f;
}

TEST_F(RobustnessTest, HostileRepliesFailCallsWithoutCrashing) {
    const std::string path = (agent_.dir() / "run/hostile.sock").string();
    std::vector<Bytes> replies = {
        frame({0x82, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff}),  // status: a string longer than all
        frame({0x82, 0, 0, 0, 9}),                          // truncated, wrong id
        Bytes{0x7f, 0xff, 0xff, 0xff, 0x82},                // a frame length past the cap
        frame({0xff, 0, 0, 0, 3, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0}),  // error, cut short
        frame(Bytes(5000, 0x41)),
    };
    size_t next = 0;
    HostileAgent hostile(
        path, [&](uint32_t, const protocol::Request&) { return replies[next++ % replies.size()]; });
    setenv("ATTACHE_SOCK", path.c_str(), 1);
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    ASSERT_EQ(p11().C_Initialize(&args), CKR_OK);
    initialized_ = true;
    for (int i = 0; i < 10; ++i) {
        CK_ULONG n = 0;
        EXPECT_EQ(p11().C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
        EXPECT_EQ(n, 0u);
    }
}

TEST_F(RobustnessTest, HostileKeyListsBecomeNoObjects) {
    // A status that names a token, and key lists with lies in their DER.
    protocol::StatusReply status;
    protocol::TokenStatus t;
    t.label = "alice";
    t.serial = "1";
    t.present = true;
    t.unlocked = true;
    t.uri = "pkcs11:token=alice";
    status.tokens = {t};
    protocol::ListKeysReply keys;
    protocol::KeyEntry bad;
    bad.id = "1111111111111111";
    bad.token_label = "alice";
    bad.token_serial = "1";
    bad.type = protocol::KeyType::rsa;
    bad.served = true;
    bad.operations = protocol::kOpSign;
    bad.spki = {0x30, 0x82, 0x7f, 0xff, 0x30};
    bad.certificate = {0x30, 0x80, 0x00};
    keys.keys = {bad};
    const std::string path = (agent_.dir() / "run/hostile.sock").string();
    HostileAgent hostile(path, [&](uint32_t id, const protocol::Request& r) {
        if (std::holds_alternative<protocol::StatusRequest>(r))
            return protocol::encode_reply(id, status);
        if (std::holds_alternative<protocol::ListKeysRequest>(r))
            return protocol::encode_reply(id, keys);
        return protocol::encode_reply(id, protocol::SignReply{Bytes(7, 1)});
    });
    setenv("ATTACHE_SOCK", path.c_str(), 1);
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    ASSERT_EQ(p11().C_Initialize(&args), CKR_OK);
    initialized_ = true;
    const CK_SLOT_ID slot = only_slot();
    const CK_SESSION_HANDLE s = open_session(slot);
    EXPECT_TRUE(find_all(s, {}).empty());
    CK_ULONG n = 0;
    EXPECT_EQ(p11().C_GetMechanismList(slot, nullptr, &n), CKR_OK);
    EXPECT_EQ(n, 0u);
    // The card's login succeeds (the fake says unlocked); still nothing to use.
    EXPECT_EQ(p11().C_Login(s, CKU_USER, nullptr, 0), CKR_DEVICE_ERROR);
}

}  // namespace
}  // namespace attache::testing

namespace attache::testing {
namespace {

// Prints the rate of a simple ECDSA sign loop through the module and, for comparison, over
// one native-protocol connection as the CLI uses it. Informational: nothing is asserted about
// speed.
TEST_F(RobustnessTest, SignLoopRates) {
    start_agent({alice_token(false)});
    agent_.unlock();
    initialize();
    constexpr int kOps = 300;
    PkeyPtr pub = public_key("ec-sign");
    auto rate = [](auto&& fn, int ops) {
        const auto start = std::chrono::steady_clock::now();
        fn();
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return ops / s;
    };
    const CK_SLOT_ID slot = only_slot();
    int failures = sign_many(p11(), slot, pub.get(), "checked", 10);  // correct, first
    const CK_SESSION_HANDLE s = open_logged_in_session();
    const CK_OBJECT_HANDLE key_handle = find(s, CKO_PRIVATE_KEY, "ec-sign");
    const double module = rate(
        [&] {
            for (int i = 0; i < kOps; ++i) {
                Bytes data = text("m " + std::to_string(i));
                Bytes sig(64);
                CK_ULONG len = sig.size();
                CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
                failures += p11().C_SignInit(s, &m, key_handle) != CKR_OK ||
                            p11().C_Sign(s, data.data(), data.size(), sig.data(), &len) != CKR_OK;
            }
        },
        kOps);
    std::atomic<int> threaded_failures{0};
    const double threads = rate(
        [&] {
            std::vector<std::thread> ts;
            for (int t = 0; t < 4; ++t) {
                ts.emplace_back([&, t] {
                    threaded_failures +=
                        sign_many(p11(), slot, pub.get(), "t" + std::to_string(t), kOps / 4);
                });
            }
            for (auto& t : ts)
                t.join();
        },
        kOps);
    auto client = agent_.client();
    const std::string key = agent_.key("ec-sign").id;
    const double direct = rate(
        [&] {
            for (int i = 0; i < kOps; ++i) {
                protocol::SignRequest r;
                r.key = key;
                r.scheme = protocol::SignScheme::ecdsa;
                r.hash = p11::Hash::sha256;
                r.data = text("c " + std::to_string(i));
                auto reply = client.call(protocol::Request(std::move(r)));
                failures += !reply || !std::holds_alternative<protocol::SignReply>(*reply);
            }
        },
        kOps);
    EXPECT_EQ(failures + threaded_failures.load(), 0);
    std::printf(
        "ECDSA P-256 signatures/s: module, 1 thread %.0f; module, 4 threads (each "
        "signature verified with OpenSSL) %.0f; native protocol client (as the CLI) "
        "%.0f\n",
        module, threads, direct);
    RecordProperty("module_ops_per_s", static_cast<int>(module));
    RecordProperty("module_4_threads_ops_per_s", static_cast<int>(threads));
    RecordProperty("client_ops_per_s", static_cast<int>(direct));
}

}  // namespace
}  // namespace attache::testing
