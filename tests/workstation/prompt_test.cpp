// Unit tests of the words the PIN dialog shows, Assuan escaping, pinentry's environment and
// the journal's audit fields.

#include <gtest/gtest.h>

#include "agent/pinentry/pinentry.h"
#include "agent/pinentry/prompt_text.h"
#include "agent/workstation/journal.h"
#include "agent/workstation/session_environment.h"

namespace attache::agent {
namespace {

PinPromptRequest request(CK_FLAGS flags, bool wrong = false) {
    PinPromptRequest r;
    r.token_label = "alice";
    r.token_serial = "0123456789";
    r.flags = flags;
    r.last_attempt_wrong = wrong;
    r.requester = "/usr/bin/ssh (pid 42)";
    return r;
}

TEST(PromptText, NamesTheCardAndWhoAsks) {
    auto t = prompt_texts(request(0));
    EXPECT_NE(t.description.find("'alice' (serial 0123456789)"), std::string::npos);
    EXPECT_NE(t.description.find("Requested by /usr/bin/ssh (pid 42)."), std::string::npos);
    EXPECT_FALSE(t.confirm_final_try);
    EXPECT_EQ(t.error, "");
    EXPECT_EQ(t.description.find("attempt"), std::string::npos);
}

TEST(PromptText, SaysWhenTheRequestComesFromARemoteSession) {
    auto local = prompt_texts(request(0));
    EXPECT_EQ(local.description.find("REMOTE"), std::string::npos);
    auto r = request(0);
    r.remote_session = true;
    EXPECT_NE(prompt_texts(r).description.find("from a REMOTE session"), std::string::npos);
}

TEST(PromptText, WarnsFromTheTokenFlags) {
    auto low = prompt_texts(request(CKF_USER_PIN_COUNT_LOW));
    EXPECT_NE(low.description.find("few attempts left"), std::string::npos);
    EXPECT_FALSE(low.confirm_final_try);
    auto last = prompt_texts(request(CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW));
    EXPECT_NE(last.description.find("LAST attempt \u2014 a wrong PIN blocks the card"),
              std::string::npos);
    EXPECT_TRUE(last.confirm_final_try);
    EXPECT_NE(last.confirm_description.find("ONE PIN attempt left"), std::string::npos);
    auto wrong = prompt_texts(request(CKF_USER_PIN_COUNT_LOW, true));
    EXPECT_EQ(wrong.error, "The last PIN entered was wrong: few attempts left");
}

TEST(PromptText, CardTextCannotLayOutTheDialog) {
    auto r = request(0);
    r.token_label = "evil\nSETERROR x\r%";
    auto t = prompt_texts(r);
    EXPECT_EQ(t.description.find("evil\n"), std::string::npos);
    const std::string escaped = assuan_escape(t.description);
    EXPECT_EQ(escaped.find('\n'), std::string::npos);
    EXPECT_EQ(escaped.find('\r'), std::string::npos);
    EXPECT_NE(escaped.find("%25"), std::string::npos);
}

TEST(AssuanEscape, EscapesPercentAndControlsAndCutsAtCharacterBoundaries) {
    EXPECT_EQ(assuan_escape("a%b\nc"), "a%25b%0Ac");
    EXPECT_EQ(assuan_escape("\u2014x"), "\u2014x");  // UTF-8 passes
    EXPECT_EQ(assuan_escape("ab\u2014", 3), "ab");   // never half a character
}

TEST(PinentryEnvironment, DropsTheAgentsOwnVariablesAndAppliesTheSession) {
    const char* base[] = {"PATH=/usr/bin", "LISTEN_FDS=2", "NOTIFY_SOCKET=/run/x", "DISPLAY=:9",
                          nullptr};
    auto env = pinentry_environment(const_cast<char**>(base), {"DISPLAY=:0", "WAYLAND_DISPLAY=w"});
    EXPECT_EQ(env, (std::vector<std::string>{"PATH=/usr/bin", "DISPLAY=:0", "WAYLAND_DISPLAY=w"}));
}

TEST(PinentryEnvironment, SessionVariablesAreTheDesktopsOnly) {
    auto vars = session_variables({"DISPLAY=:0", "HOME=/home/a", "WAYLAND_DISPLAY=wayland-0",
                                   "XAUTHORITY=/run/user/1/xauth", "LD_PRELOAD=/evil.so"});
    EXPECT_EQ(vars, (std::vector<std::string>{"DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0",
                                              "XAUTHORITY=/run/user/1/xauth"}));
}

TEST(FindProgram, LooksInPath) {
    auto sh = find_program("sh");
    ASSERT_TRUE(sh) << sh.error().message();
    EXPECT_EQ(sh->front(), '/');
    EXPECT_FALSE(find_program("attache-no-such-program"));
    EXPECT_FALSE(find_program("/nonexistent/pinentry"));
}

TEST(Journal, AuditFieldsNameTheOperationKeyClientAndResult) {
    auto fields = audit_journal_fields({{"op", "sign"},
                                        {"via", "ssh"},
                                        {"key", "0123abcd"},
                                        {"pid", "42"},
                                        {"uid", "1000"},
                                        {"exe", "/usr/bin/ssh"},
                                        {"result", "ok"}});
    EXPECT_EQ(fields, (std::vector<std::string>{
                          "ATTACHE_OP=sign", "ATTACHE_VIA=ssh", "ATTACHE_KEY=0123abcd",
                          "ATTACHE_CLIENT_PID=42", "ATTACHE_CLIENT_UID=1000",
                          "ATTACHE_CLIENT_EXE=/usr/bin/ssh", "ATTACHE_RESULT=ok"}));
}

TEST(Journal, StderrIsTheJournalOnlyWhenJournalStreamSaysSo) {
    unsetenv("JOURNAL_STREAM");
    EXPECT_FALSE(stderr_is_journal());
    struct stat st {};
    ASSERT_EQ(fstat(2, &st), 0);
    setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(),
           1);
    EXPECT_TRUE(stderr_is_journal());
    setenv("JOURNAL_STREAM", "1:2", 1);
    EXPECT_FALSE(stderr_is_journal());
    unsetenv("JOURNAL_STREAM");
}

}  // namespace
}  // namespace attache::agent
