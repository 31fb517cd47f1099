// JournalAuditSink against a stand-in for journald: a child process in a private mount
// namespace puts a tmpfs over /run, binds /run/systemd/journal/socket (journald's native
// socket, a datagram socket) and receives the entry the sink sends. Needs root (a mount
// namespace); skipped otherwise.

#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "agent/audit/journal_audit_sink.h"
#include "agent/workstation/journal.h"
#include "tests/audit/audit_fixture.h"

namespace attache::audit::testing {
namespace {

// journald's native protocol: "NAME=value\n", or for a value with a newline "NAME\n", its
// length as 64-bit little-endian, the value and "\n".
std::multimap<std::string, std::string> parse_datagram(const std::string& d) {
    std::multimap<std::string, std::string> fields;
    size_t pos = 0;
    while (pos < d.size()) {
        const size_t nl = d.find('\n', pos);
        const size_t eq = d.find('=', pos);
        if (nl == std::string::npos)
            break;
        if (eq != std::string::npos && eq < nl) {
            fields.emplace(d.substr(pos, eq - pos), d.substr(eq + 1, nl - eq - 1));
            pos = nl + 1;
            continue;
        }
        const std::string name = d.substr(pos, nl - pos);
        if (nl + 9 > d.size())
            break;
        uint64_t size = 0;
        for (int i = 7; i >= 0; --i)
            size = size << 8 | static_cast<unsigned char>(d[nl + 1 + i]);
        if (nl + 9 + size + 1 > d.size())
            break;
        fields.emplace(name, d.substr(nl + 9, size));
        pos = nl + 9 + size + 1;
    }
    return fields;
}

// Exit status: 0 when the entry arrived with its fields; the number says which step failed.
int run_standin() {
    if (::unshare(CLONE_NEWNS) != 0)
        return 10;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return 11;
    if (::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0)
        return 12;
    if (::mkdir("/run/systemd", 0755) != 0 || ::mkdir("/run/systemd/journal", 0755) != 0)
        return 13;
    const int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, "/run/systemd/journal/socket");
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return 14;

    JournalAuditSink sink;
    sink.record(sample_record(1, 1234));
    // The datagram is queued when sendmsg() returns: nothing to wait for.
    std::string buf(256 * 1024, '\0');
    const ssize_t n = ::recv(s, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0)
        return 20;
    buf.resize(static_cast<size_t>(n));
    const auto fields = parse_datagram(buf);
    auto is = [&](const std::string& name, const std::string& value) {
        auto it = fields.find(name);
        return it != fields.end() && it->second == value && fields.count(name) == 1;
    };
    if (!is("MESSAGE_ID", agent::kAuditMessageId))
        return 21;
    if (!is("ATTACHE_OP", "sign") || !is("ATTACHE_CLIENT_UID", "1234") ||
        !is("ATTACHE_KEY", "3f2a1") || !is("ATTACHE_RESULT", "refused"))
        return 22;
    // A client's newline stays inside its field, never a field of its own.
    if (!is("ATTACHE_DESTINATION", sample_record(1).ssh_destination))
        return 23;
    if (fields.count(" newline") != 0 ||
        fields.find("MESSAGE")->second.find('\n') != std::string::npos)
        return 24;
    return 0;
}

TEST(JournalStandIn, TheEntryReachesTheJournalSocketWithItsFields) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root for a private mount namespace with its own /run";
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        ::_exit(run_standin());
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    if (code >= 10 && code <= 14)
        GTEST_SKIP() << "no private mount namespace here (step " << code << ")";
    EXPECT_EQ(code, 0) << "20: nothing arrived; 21: no MESSAGE_ID; 22: an ATTACHE_ field is "
                          "wrong; 23: the destination was split; 24: a forged field";
}

}  // namespace
}  // namespace attache::audit::testing
