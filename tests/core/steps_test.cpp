// The chain's steps alone.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "agent/core/broker/dialog_text.h"
#include "agent/core/broker/remembered_uses.h"
#include "agent/core/broker/steps.h"
#include "agent/core/pin_backoff.h"

namespace attache::testing {
namespace {

using namespace agent;

TEST(PinBackoff, DoublesFromOneSecondUpToTheCap) {
    EXPECT_EQ(PinBackoff::delay_after(0).count(), 0);
    EXPECT_EQ(PinBackoff::delay_after(1).count(), 1000);
    EXPECT_EQ(PinBackoff::delay_after(2).count(), 2000);
    EXPECT_EQ(PinBackoff::delay_after(3).count(), 4000);
    EXPECT_EQ(PinBackoff::delay_after(7).count(), 32000);
    EXPECT_EQ(PinBackoff::delay_after(1000).count(), 32000);
}

TEST(PinBackoff, ALockEndsTheWait) {
    PinBackoff b;
    b.record_wrong_pin();
    b.record_wrong_pin();
    EXPECT_GT(b.remaining().count(), 1000);
    EXPECT_FALSE(b.wait([] { return true; }));
    b.record_right_pin();
    EXPECT_EQ(b.remaining().count(), 0);
    EXPECT_TRUE(b.wait([] { return false; }));
}

TEST(SessionCheck, AProcessThatExitedOrWhosePidWasReusedIsNotAskedFor) {
    Context c;
    c.client.pid = 1234;
    c.client.start_time = 777;
    Chain chain(c, OperationKind::sign, "k");
    EXPECT_TRUE(check_session(chain, [](pid_t) -> uint64_t { return 777; }));
    EXPECT_FALSE(check_session(chain, [](pid_t) -> uint64_t { return 778; }));
    EXPECT_FALSE(check_session(chain, [](pid_t) -> uint64_t { return 0; }));
}

TEST(SessionCheck, ReadsTheStartTimeField) {
    // Field 22 of /proc/self/stat, read here with sscanf after the command name.
    FILE* f = fopen("/proc/self/stat", "r");
    ASSERT_NE(f, nullptr);
    char buf[1024] = {0};
    ASSERT_NE(fgets(buf, sizeof buf, f), nullptr);
    fclose(f);
    unsigned long long expected = 0;
    ASSERT_EQ(sscanf(strrchr(buf, ')') + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
                     "%llu",
                     &expected),
              1);
    EXPECT_EQ(proc_start_time(getpid()), expected);
    EXPECT_LE(proc_start_time(1), expected);
    EXPECT_EQ(proc_start_time(0x7ffffff0), 0u);  // no such process
}

TEST(RememberedUses, PerExecutableSessionAndKeyForTheTimeGiven) {
    RememberedUses r;
    RememberedUses::Use a{"/usr/bin/a", 1000, "3", "key1"};
    EXPECT_FALSE(r.recall(a));
    r.remember(a, std::chrono::seconds(60));
    EXPECT_TRUE(r.recall(a));
    auto other_exe = a;
    other_exe.exe = "/usr/bin/b";
    auto other_session = a;
    other_session.session_id = "4";
    auto other_key = a;
    other_key.key_id = "key2";
    EXPECT_FALSE(r.recall(other_exe));
    EXPECT_FALSE(r.recall(other_session));
    EXPECT_FALSE(r.recall(other_key));
    r.remember(other_key, std::chrono::seconds(0));  // 0: not remembered at all
    EXPECT_FALSE(r.recall(other_key));
    r.forget_all();
    EXPECT_FALSE(r.recall(a));
}

TEST(RememberedUses, StaysBounded) {
    RememberedUses r;
    for (size_t i = 0; i < RememberedUses::kMaxEntries + 10; ++i)
        r.remember({"/usr/bin/a", 1, "s", std::to_string(i)}, std::chrono::seconds(60 + i));
    EXPECT_TRUE(r.recall({"/usr/bin/a", 1, "s", std::to_string(RememberedUses::kMaxEntries + 9)}));
    EXPECT_FALSE(r.recall({"/usr/bin/a", 1, "s", "0"}));  // the oldest went
}

TEST(DialogText, ShowsTheCheckedFactsAndSaysWhenTheSessionIsRemote) {
    Context c;
    c.client.pid = 42;
    c.client.exe = "/usr/bin/thunderbird";
    c.client.parents = {{40, "/usr/bin/bash"}};
    c.client.session = SessionKind::remote;
    c.client.session_id = "7";
    c.channel = Channel::ssh;
    c.ssh.forwarded = true;
    c.ssh.destination = "SHA256:abc";
    Chain chain(c, OperationKind::decrypt, "k");
    const ConfirmRequest r = confirmation_for(chain);
    EXPECT_NE(r.title.find("decryption"), std::string::npos);
    for (const char* fact : {"/usr/bin/thunderbird (pid 42)", "/usr/bin/bash (pid 40)",
                             "REMOTE session (7)", "FORWARDED", "SHA256:abc"}) {
        EXPECT_NE(r.description.find(fact), std::string::npos) << fact << "\n" << r.description;
    }
}

}  // namespace
}  // namespace attache::testing
