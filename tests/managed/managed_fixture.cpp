#include "tests/managed/managed_fixture.h"
#include "tests/support/command_assert.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/sha.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/bytes.h"
#include "pkcs11/card_manifest/manifest_signature.h"
#include "tests/support/softhsm.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {
namespace {

void chown_tree(const std::filesystem::path& dir, uid_t uid, gid_t gid) {
    ASSERT_EQ(chown(dir.c_str(), uid, gid), 0);
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        ASSERT_EQ(lchown(e.path().c_str(), uid, gid), 0) << e.path();
}

gid_t gid_of(const std::string& user) {
    passwd* pw = getpwnam(user.c_str());
    return pw ? pw->pw_gid : static_cast<gid_t>(-1);
}

bool connectable(const std::filesystem::path& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

}  // namespace

uid_t uid_of(const std::string& user) {
    passwd* pw = getpwnam(user.c_str());
    return pw ? pw->pw_uid : static_cast<uid_t>(-1);
}

bool ManagedFixture::can_run() {
    return geteuid() == 0;
}

ManagedFixture::ManagedFixture() : module_path_(SoftHsm::module_path()) {
    if (can_run())
        prepare();
}

void ManagedFixture::prepare() {
    must(run_command({ATTACHE_SOURCE_DIR "/tests/managed/ensure-users.sh"}), "ensure-users.sh");
    char tmpl[] = "/run/attache-managed-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    for (const char* d : {"etc", "run", "bin", "tokens", "keys"})
        std::filesystem::create_directory(root_ / d);
    for (const char* d : {"etc", "run", "bin"})
        ASSERT_EQ(chmod((root_ / d).c_str(), 0755), 0);
    ASSERT_EQ(chmod((root_ / "keys").c_str(), 0700), 0);
    // The CLI as users run it: installed by root, outside a build tree they may not reach.
    std::filesystem::copy_file(ATTACHE_CLI_PATH, root_ / "bin/attache");
    ASSERT_EQ(chmod((root_ / "bin/attache").c_str(), 0755), 0);
    write_file(etc() / "softhsm2.conf", "directories.tokendir = " + (root_ / "tokens").string() +
                                            "\nobjectstore.backend = file\nlog.level = ERROR\n");
    write_file(etc() / "policy.toml", "[[rule]]\nname = \"managed test\"\naction = \"allow\"\n");
    write_file(etc() / "managed.conf",
               "socket_dir = " + (root_ / "run").string() + "\nbroker_user = attache\n");
    must(run_command({"openssl", "genpkey", "-algorithm", "ed25519", "-out",
                      (root_ / "keys/admin.pem").string()}),
         "openssl genpkey");
    must(run_command({"openssl", "pkey", "-in", (root_ / "keys/admin.pem").string(), "-pubout",
                      "-out", (etc() / "manifest-signer.pem").string()}),
         "openssl pkey -pubout");
    module_line = "modules = [\"" + module_path_ + "\"]";
    // The audit: the key made by the CLI and given to the broker's user; the log directory is
    // the broker's (systemd's LogsDirectory= makes it so).
    std::filesystem::create_directory(root_ / "log");
    must(run_command({ATTACHE_CLI_PATH, "audit", "new-key", audit_key().string()}),
         "attache audit new-key");
    ASSERT_EQ(chown(audit_key().c_str(), uid_of("attache"), gid_of("attache")), 0);
    ASSERT_EQ(chown((root_ / "log").c_str(), uid_of("attache"), gid_of("attache")), 0);
}

ManagedFixture::~ManagedFixture() {
    if (pid_ > 0)
        stop();
    if (!root_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
}

std::string ManagedFixture::add_card(const ManagedCard& card) {
    const std::map<std::string, std::string> env{{"SOFTHSM2_CONF", etc() / "softhsm2.conf"}};
    auto init = run_command({"softhsm2-util", "--init-token", "--free", "--label", card.label,
                             "--pin", kCardPin, "--so-pin", "12345678"},
                            {}, env);
    EXPECT_EQ(init.exit_code, 0) << describe(init);
    auto slots =
        run_command({"pkcs11-tool", "--module", module_path_, "--list-token-slots"}, {}, env);
    // "  token label        : holder-card" ... "  serial num         : 822059d415b4ad9c"
    std::string serial;
    const auto at = slots.out.find(": " + card.label + "\n");
    const auto line = slots.out.find("serial num", at == std::string::npos ? 0 : at);
    if (at != std::string::npos && line != std::string::npos) {
        const auto colon = slots.out.find(": ", line) + 2;
        serial = slots.out.substr(colon, slots.out.find('\n', colon) - colon);
    }
    EXPECT_FALSE(serial.empty()) << describe(slots);
    for (const std::string& id : card.key_ids) {
        must(run_command({"pkcs11-tool", "--module", module_path_, "--token-label", card.label,
                          "--login", "--pin", kCardPin, "--keypairgen", "--key-type",
                          "EC:prime256v1", "--id", id, "--label", "key-" + id, "--usage-sign"},
                         {}, env),
             "pkcs11-tool --keypairgen");
        must(run_command({"pkcs11-tool", "--module", module_path_, "--token-label", card.label,
                          "--read-object", "--type", "pubkey", "--id", id, "-o",
                          public_key(serial, id).string()},
                         {}, env),
             "pkcs11-tool --read-object");
    }
    // The broker's user owns the token files, as on a workstation it owns the card.
    chown_tree(root_ / "tokens", uid_of("attache"), gid_of("attache"));
    return serial;
}

std::filesystem::path ManagedFixture::public_key(const std::string& serial,
                                                 const std::string& key_id) const {
    return root_ / "keys" / (serial + "-" + key_id + ".der");
}

std::string ManagedFixture::spki_sha256(const std::string& serial,
                                        const std::string& key_id) const {
    const std::string der = read_file(public_key(serial, key_id));
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest);
    return hex(digest, sizeof digest);
}

manifest::ManifestCard ManagedFixture::manifest_card(const std::string& serial,
                                                     const std::string& holder,
                                                     const std::vector<std::string>& key_ids,
                                                     const std::string& state) const {
    manifest::ManifestCard card{serial, "SoftHSM v2", "SoftHSM project", holder, state, {}};
    for (const auto& id : key_ids)
        card.keys.push_back({"authentication", spki_sha256(serial, id)});
    return card;
}

void ManagedFixture::write_manifest(const manifest::CardManifest& m) {
    manifest::CardManifest copy = m;
    copy.issued_at = "2026-12-02T00:00:00Z";
    copy.sequence = ++sequence_;
    const std::string text = manifest::serialize(copy);
    auto signature = manifest::sign_manifest(text, read_file(root_ / "keys/admin.pem"));
    ASSERT_TRUE(signature) << signature.error().message();
    // Replaced whole, as an admin's install does (a new inode).
    write_file(etc() / "cards.manifest.new", text);
    write_file(etc() / "cards.manifest.sig.new", *signature);
    std::filesystem::rename(etc() / "cards.manifest.sig.new", etc() / "cards.manifest.sig");
    std::filesystem::rename(etc() / "cards.manifest.new", etc() / "cards.manifest");
}

void ManagedFixture::write_config() {
    std::string env_line =
        "module_environment = [\"SOFTHSM2_CONF=" + (etc() / "softhsm2.conf").string() + "\"";
    for (const auto& e : module_environment)
        env_line += ", \"" + e + "\"";
    env_line += "]";
    write_file(etc() / "agent.toml",
               module_line + "\n" + env_line + "\n" + "policy = \"" +
                   (etc() / "policy.toml").string() + "\"\n" + "manifest = \"" +
                   (etc() / "cards.manifest").string() + "\"\n" + "manifest_signer = \"" +
                   (etc() / "manifest-signer.pem").string() + "\"\n" + "socket = \"" +
                   socket().string() + "\"\n" + "audit_file = \"" + audit_file().string() + "\"\n" +
                   "audit_key = \"" + audit_key().string() + "\"\n" +
                   "allow_extractable_keys = true\npoll_interval_ms = 100\n");
}

void ManagedFixture::start(const std::vector<std::string>& extra_args,
                           const std::map<std::string, std::string>& env, bool wait) {
    write_config();
    std::vector<std::string> args{ATTACHE_AGENT_PATH, "--system", "--config-dir", etc().string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    const std::string log_path = (root_ / "broker.log").string();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
        int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        for (const auto& [k, v] : env)
            setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    if (!wait)
        return;
    for (int i = 0; i < 400; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            FAIL() << "the broker exited at start:\n" << log();
        }
        if (connectable(socket()))
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "the broker did not listen on " << socket() << " within 20 s:\n" << log();
}

int ManagedFixture::wait_exit() {
    int status = 0;
    for (int i = 0; i < 400; ++i) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "the broker is still running:\n" << log();
    return stop();
}

int ManagedFixture::stop() {
    if (pid_ <= 0)
        return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ManagedFixture::log() const {
    std::ifstream in(root_ / "broker.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool ManagedFixture::log_has(const std::string& text) const {
    for (int i = 0; i < 200; ++i) {
        if (log().find(text) != std::string::npos)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

CommandResult ManagedFixture::cli_as(const std::string& user, const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env) const {
    std::vector<std::string> argv{(root_ / "bin/attache").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_as(user, argv, env);
}

CommandResult ManagedFixture::run_as(const std::string& user,
                                     const std::vector<std::string>& program,
                                     const std::map<std::string, std::string>& env) const {
    std::vector<std::string> argv{"setpriv",
                                  "--reuid=" + user,
                                  "--regid=" + user,
                                  "--init-groups",
                                  "env",
                                  "-i",
                                  "PATH=/usr/bin:/bin",
                                  "HOME=/nonexistent",
                                  "ATTACHE_MANAGED_CONF=" + (etc() / "managed.conf").string()};
    for (const auto& [k, v] : env)
        argv.push_back(k + "=" + v);
    argv.insert(argv.end(), program.begin(), program.end());
    return run_command(argv);
}

std::string ManagedFixture::call_as(const std::string& user,
                                    const protocol::Request& request) const {
    int fds[2];
    if (pipe(fds) != 0)
        return "pipe failed";
    const pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        const uid_t uid = uid_of(user);
        const gid_t gid = gid_of(user);
        std::string answer;
        if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0) {
            answer = "cannot become " + user;
        } else {
            auto client = protocol::Client::connect(
                protocol::AgentEndpoint{socket().string(), uid_of("attache"), "the broker"},
                "managed-test");
            if (!client) {
                answer = client.error().message();
            } else {
                auto reply = client->call(request);
                if (!reply)
                    answer = reply.error().message();
                else if (auto* e = std::get_if<protocol::ErrorReply>(&*reply))
                    answer = e->message;
                else
                    answer = "ok";
            }
        }
        (void)!write(fds[1], answer.data(), answer.size());
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    waitpid(child, nullptr, 0);
    return out;
}

std::filesystem::path ManagedFixture::writable_dir(const std::string& user) const {
    const auto dir = root_ / ("out-" + user);
    std::filesystem::create_directories(dir);
    EXPECT_EQ(chown(dir.c_str(), uid_of(user), gid_of(user)), 0);
    return dir;
}

}  // namespace attache::testing
