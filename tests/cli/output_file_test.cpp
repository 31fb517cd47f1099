// `--out`: what the CLI writes to, and what it leaves alone. A regular file is replaced whole;
// a device or a FIFO is written in place and stays what it was; a symbolic link is refused
// before the card signs; /dev/stdout is the process's own standard output, for any user.

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/cli/cli_fixture.h"

namespace attache::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMessage = "a diplomatic cable\n";

class OutputFileTest : public CliTest {
  protected:
    std::string path(const std::string& name) const { return (tmp_ / name).string(); }

    CommandResult sign_to(const std::string& out) {
        return attache({"sign", "--key", "ec-sign", "--out", out}, kMessage);
    }
    bool verifies(const std::string& signature) {
        return signature_verifies(agent_.key("ec-sign"), kMessage, signature);
    }
    // Every name in the test directory (no temporary file may be left behind).
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(tmp_.path()))
            out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
    // Waits until the agent's log holds `n` sign records.
    void wait_for_signs(size_t n) {
        for (int i = 0; i < 500 && audit_count("sign") < n; ++i)
            usleep(10'000);
    }
};

TEST_F(OutputFileTest, RegularFileIsReplacedWholeWithMode0600) {
    const std::string out = path("msg.sig");
    write_file(out, "an older signature");
    chmod(out.c_str(), 0644);
    auto r = sign_to(out);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(verifies(read_file(out)));
    struct stat st {};
    ASSERT_EQ(lstat(out.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(names(), std::vector<std::string>{"msg.sig"});
}

TEST_F(OutputFileTest, FailedSignLeavesTheFileAsItWas) {
    const std::string out = path("msg.sig");
    write_file(out, "the previous signature");
    ASSERT_EQ(attache({"lock"}).exit_code, 0);
    auto r = sign_to(out);
    EXPECT_EQ(r.exit_code, 4) << describe(r);
    EXPECT_EQ(read_file(out), "the previous signature");
    auto fresh = sign_to(path("new.sig"));
    EXPECT_EQ(fresh.exit_code, 4) << describe(fresh);
    EXPECT_EQ(names(), std::vector<std::string>{"msg.sig"}) << "no temporary file is left";
}

TEST_F(OutputFileTest, CharacterDeviceStaysThatDevice) {
    if (getuid() != 0)
        GTEST_SKIP() << "mknod needs root";
    const std::string dev = path("null");
    ASSERT_EQ(mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
    auto r = sign_to(dev);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    struct stat st {};
    ASSERT_EQ(lstat(dev.c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced";
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_EQ(names(), std::vector<std::string>{"null"});
    wait_for_signs(1);
    EXPECT_EQ(audit_count("sign"), 1u) << agent_.log();
}

TEST_F(OutputFileTest, FifoReceivesTheSignature) {
    const std::string fifo = path("pipe");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // Held open for writing until `attache` is done, so the reader gets its end of file even
    // if `attache` never opened the FIFO (and the test cannot hang).
    const int keep = open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(keep, 0);
    std::string received;
    std::thread reader([&] {
        int fd = open(fifo.c_str(), O_RDONLY);
        char buf[4096];
        for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
            received.append(buf, static_cast<size_t>(n));
        close(fd);
    });
    auto r = sign_to(fifo);
    close(keep);
    reader.join();
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(verifies(received)) << received.size() << " bytes";
    struct stat st {};
    ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(names(), std::vector<std::string>{"pipe"});
}

TEST_F(OutputFileTest, SymlinkIsRefusedBeforeTheCardSigns) {
    const std::string target = path("precious");
    const std::string link = path("link.sig");
    write_file(target, "keep me");
    fs::create_symlink(target, link);
    auto r = sign_to(link);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(target), "keep me");
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_EQ(names(), (std::vector<std::string>{"link.sig", "precious"}));

    // A sign that goes through is logged; the refused one before it was never asked for.
    auto good = sign_to(path("good.sig"));
    ASSERT_EQ(good.exit_code, 0) << describe(good);
    wait_for_signs(1);
    EXPECT_EQ(audit_count("sign"), 1u) << agent_.log();
}

TEST_F(OutputFileTest, DanglingSymlinkIsRefusedToo) {
    const std::string link = path("dangling.sig");
    fs::create_symlink(path("nowhere"), link);
    auto r = sign_to(link);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_FALSE(fs::exists(path("nowhere")));
}

TEST_F(OutputFileTest, DirectoryIsRefused) {
    fs::create_directory(path("dir"));
    auto r = sign_to(path("dir"));
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(fs::is_directory(path("dir")));
}

TEST_F(OutputFileTest, DevStdoutIsStandardOutput) {
    auto r = sign_to("/dev/stdout");
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(verifies(r.out));
    EXPECT_TRUE(fs::is_symlink("/dev/stdout"));
    auto fd = sign_to("/dev/fd/1");
    ASSERT_EQ(fd.exit_code, 0) << describe(fd);
    EXPECT_TRUE(verifies(fd.out));
}

TEST_F(OutputFileTest, DecryptWritesPlaintextTheSameWay) {
    const std::string link = path("plain.txt");
    write_file(path("elsewhere"), "untouched");
    fs::create_symlink(path("elsewhere"), link);
    auto r = attache({"decrypt", "--key", "rsa-decrypt", "--out", link}, std::string(256, 'x'));
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_EQ(read_file(path("elsewhere")), "untouched");
    // The card was never asked: no decryption record, whatever its outcome would have been.
    auto good = sign_to(path("good.sig"));
    ASSERT_EQ(good.exit_code, 0) << describe(good);
    wait_for_signs(1);
    EXPECT_EQ(audit_count("decrypt"), 0u) << agent_.log();
}

TEST_F(OutputFileTest, PubkeyWritesAFile) {
    const std::string out = path("key.pem");
    auto r = attache({"pubkey", "--key", "ec-sign", "--out", out});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(read_file(out).starts_with("-----BEGIN PUBLIC KEY-----")) << read_file(out);
}

// An unprivileged user's /dev/stdout: the old code tried to create /dev/stdout.attache-tmp.
class OtherUserOutputTest : public CliTest {
  protected:
    void SetUp() override {
        if (getuid() != 0)
            GTEST_SKIP() << "needs root to run the agent and the CLI as another user";
        passwd* pw = getpwnam("nobody");
        if (pw == nullptr)
            GTEST_SKIP() << "no user 'nobody'";
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        add_card();
        start({.extra_config = "allow_root = true", .run_as = uid_, .agent_path = bin_.agent()});
    }

    CommandResult attache_as_user(const std::vector<std::string>& args, const std::string& input) {
        std::vector<std::string> argv{"setpriv", "--reuid=" + std::to_string(uid_),
                                      "--regid=" + std::to_string(gid_), "--clear-groups",
                                      bin_.cli()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, input, {{"ATTACHE_SOCK", agent_.socket()}});
    }

    ReachableBinaries bin_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
};

TEST_F(OtherUserOutputTest, DevStdoutWorks) {
    auto r = attache_as_user({"sign", "--key", "ec-sign", "--out", "/dev/stdout"}, kMessage);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(signature_verifies(agent_.key("ec-sign"), kMessage, r.out));
}

}  // namespace
}  // namespace attache::testing
