// After an unlock the PIN is nowhere in the agent's memory: with the module in a helper
// process (the default) the agent passes the PIN to the helper for C_Login and wipes every
// copy it made (the request's buffer, the secret, the frame to the helper). Read as root
// through /proc/PID/mem, every readable mapping, after a signature proves the login holds.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string.h>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/helper_pool.h"
#include "pkcs11/module.h"
#include "tests/agent/agent_fixture.h"
#include "tests/support/proc_table.h"

namespace attache::testing {
namespace {

// A PIN no other string in the agent resembles.
constexpr const char* kDistinctPin = "Zq4-residue-81xk";

// Mappings larger than this are address space a sanitizer reserves (ASan's shadow spans
// terabytes, mapped without backing); they hold shadow bytes, not the program's data.
constexpr unsigned long kLargestScannedMapping = 64UL << 30;
// Mappings are read in pieces this large, each overlapping the last by the needle's length.
constexpr size_t kReadPiece = 1 << 20;

// How often `needle` occurs in the readable memory of `pid`; -1 if nothing could be read.
long occurrences_in_memory(pid_t pid, const std::string& needle) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    FILE* mem = std::fopen(("/proc/" + std::to_string(pid) + "/mem").c_str(), "rb");
    if (!maps || mem == nullptr)
        return -1;
    long found = 0;
    size_t read_total = 0;
    std::string line;
    std::vector<char> buf(kReadPiece + needle.size());
    while (std::getline(maps, line)) {
        unsigned long start = 0, end = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3 || perms[0] != 'r')
            continue;
        if (line.find("[vvar") != std::string::npos || line.find("[vsyscall]") != std::string::npos)
            continue;
        if (end - start > kLargestScannedMapping)
            continue;
        // `carried` bytes from the end of the previous piece, so a needle across two is seen.
        size_t carried = 0;
        for (unsigned long at = start; at < end; at += kReadPiece) {
            const size_t want = std::min<unsigned long>(kReadPiece, end - at);
            if (fseeko(mem, static_cast<off_t>(at), SEEK_SET) != 0)
                break;
            const size_t got = std::fread(buf.data() + carried, 1, want, mem);
            std::clearerr(mem);
            read_total += got;
            const char* const stop = buf.data() + carried + got;
            for (const char* it = buf.data();
                 (it = static_cast<const char*>(
                      ::memmem(it, static_cast<size_t>(stop - it), needle.data(), needle.size())));
                 ++it)
                ++found;
            if (got < want)
                break;
            carried = std::min(needle.size() - 1, carried + got);
            std::copy(stop - carried, stop, buf.data());
        }
    }
    std::fclose(mem);
    return read_total == 0 ? -1 : found;
}

TEST(AgentPinResidue, NoCopyOfThePinInTheAgentAfterUnlock) {
    if (geteuid() != 0)
        GTEST_SKIP() << "reading another process's memory needs root (CAP_SYS_PTRACE)";
    AgentFixture agent;
    const CK_SLOT_ID slot =
        agent.add_token("alice", {{p11::KeyAlgorithm::ec_p256, "ec-a", {.sign = true}}});
    {
        auto module = p11::Module::load(SoftHsm::module_path());
        ASSERT_TRUE(module) << module.error().message();
        auto session = module->open_session(slot, true);
        ASSERT_TRUE(session) << session.error().message();
        Secret old_pin, new_pin;
        Secret::from(SoftHsm::kUserPin, old_pin);
        Secret::from(kDistinctPin, new_pin);
        ASSERT_TRUE(session->login(CKU_USER, &old_pin));
        auto changed = session->set_pin(old_pin, new_pin);
        ASSERT_TRUE(changed) << changed.error().message();
        (void)session->logout();
    }
    AgentOptions options;
    options.extra_config = "module_process = \"helper\"\n";  // the default, stated
    agent.start(options);

    auto c = agent.client();
    protocol::UnlockRequest u;
    Secret pin;
    Secret::from(kDistinctPin, pin);
    u.pin = std::move(pin);
    auto unlocked = c.call(protocol::Request(std::move(u)));
    ASSERT_TRUE(unlocked) << unlocked.error().message();
    ASSERT_EQ(std::get_if<protocol::ErrorReply>(&*unlocked), nullptr)
        << std::get<protocol::ErrorReply>(*unlocked).message;
    const std::string key_id = agent.key("ec-a").id;
    auto signed_ =
        c.call(protocol::SignRequest{key_id, protocol::SignScheme::ecdsa, p11::Hash::sha256, false,
                                     0, true, to_bytes("after the unlock")});
    ASSERT_TRUE(signed_) << signed_.error().message();
    ASSERT_TRUE(std::holds_alternative<protocol::SignReply>(*signed_)) << agent.log();
    EXPECT_NE(agent.log().find("runs in helper process"), std::string::npos) << agent.log();

    // The scan reads the agent: it finds what the agent does hold (the key id it served).
    EXPECT_GT(occurrences_in_memory(agent.pid(), key_id), 0);
    EXPECT_EQ(occurrences_in_memory(agent.pid(), kDistinctPin), 0)
        << "the PIN is still in the agent's memory after the unlock";

    // SoftHSM2 keeps a login per process: the token is served by a pool of helpers, each
    // logged in with the PIN at unlock (helpers_per_token = 0: one per core, at least one).
    const auto helpers = children_of(agent.pid());
    const size_t expected =
        std::clamp(std::thread::hardware_concurrency(), 1u, agent::kMaxAutoHelpers);
    ASSERT_EQ(helpers.size(), expected) << "one module, a helper per core" << agent.log();
    for (pid_t helper : helpers) {
        EXPECT_EQ(occurrences_in_memory(helper, kDistinctPin), 0)
            << "helper " << helper << " keeps the login, not the PIN";
    }
}

}  // namespace
}  // namespace attache::testing
