#include "tests/tpm/tpm_fixture.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/loopback.h"
#include "tests/support/softhsm.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace fs = std::filesystem;

void TpmTokenTest::SetUp() {
    for (const char* program : {"/usr/bin/swtpm", "/usr/sbin/tpm2-abrmd", "/usr/bin/dbus-daemon",
                                "/usr/bin/tpm2_ptool", "/usr/bin/pkcs11-tool"}) {
        if (access(program, X_OK) != 0)
            GTEST_SKIP() << program << " is missing (scripts/install-deps.sh installs it)";
    }
    if (!fs::exists(kModule))
        GTEST_SKIP() << kModule << " is missing (package libtpm2-pkcs11-1)";
    ASSERT_NO_FATAL_FAILURE(start_tpm());
    ASSERT_NO_FATAL_FAILURE(make_token());
    agent_.start({.module = kModule});
}

void TpmTokenTest::start_tpm() {
    // swtpm: the TPM on 127.0.0.1:port, its control channel on port + 1 (where the swtpm
    // TCTI looks for it); it starts the TPM itself (no tpm2_startup needed).
    fs::create_directories(dir_ / "swtpm");
    const int port = free_port_pair();
    ASSERT_GT(port, 0) << "no two free loopback ports in a row";
    swtpm_ = std::make_unique<Background>(
        std::vector<std::string>{
            "swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + (dir_ / "swtpm").string(),
            "--server", "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1", "--ctrl",
            "type=tcp,port=" + std::to_string(port + 1) + ",bindaddr=127.0.0.1", "--flags",
            "not-need-init,startup-clear"},
        (dir_ / "swtpm.log").string());
    ASSERT_TRUE(wait_for_port(port) && wait_for_port(port + 1)) << read_file(dir_ / "swtpm.log");

    // tpm2-abrmd on a bus of the test's own. Without a resource manager, tpm2-tools (which
    // tpm2_ptool runs) leave their objects in the TPM and swtpm runs out of object slots
    // (TPM_RC_OBJECT_MEMORY) while a token is made, and tpm2-pkcs11 can keep only one key
    // loaded next to its primary key.
    const fs::path bus = dir_ / "bus";
    bus_ = std::make_unique<Background>(
        std::vector<std::string>{"dbus-daemon", "--session", "--nofork",
                                 "--address=unix:path=" + bus.string()},
        (dir_ / "dbus.log").string());
    ASSERT_TRUE(eventually([&] { return fs::exists(bus); })) << read_file(dir_ / "dbus.log");
    // The library, tpm2-tools and the agent (which inherits this environment) reach the TPM
    // through it and keep their store here.
    setenv("DBUS_SESSION_BUS_ADDRESS", ("unix:path=" + bus.string()).c_str(), 1);
    setenv("TPM2_PKCS11_TCTI", "tabrmd:bus_type=session", 1);
    setenv("TPM2TOOLS_TCTI", "tabrmd:bus_type=session", 1);
    fs::create_directories(dir_ / "store");
    setenv("TPM2_PKCS11_STORE", (dir_ / "store").c_str(), 1);
    abrmd_ = std::make_unique<Background>(
        std::vector<std::string>{"tpm2-abrmd", "--session", "--allow-root",
                                 "--tcti=swtpm:host=127.0.0.1,port=" + std::to_string(port)},
        (dir_ / "abrmd.log").string());
    ASSERT_TRUE(eventually(
        [] {
            return run_command({"tpm2_getcap", "properties-fixed"}).exit_code == 0;
        },
        std::chrono::seconds(20)))
        << read_file(dir_ / "abrmd.log");
}

void TpmTokenTest::ptool(std::vector<std::string> args) {
    args.insert(args.begin(), "tpm2_ptool");
    args.push_back("--path=" + (dir_ / "store").string());
    auto r = run_command(args);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
}

void TpmTokenTest::make_token() {
    const std::string label = std::string("--label=") + kLabel;
    const std::string user_pin = std::string("--userpin=") + SoftHsm::kUserPin;
    ASSERT_NO_FATAL_FAILURE(ptool({"init"}));
    ASSERT_NO_FATAL_FAILURE(
        ptool({"addtoken", "--pid=1", label, std::string("--sopin=") + SoftHsm::kSoPin, user_pin}));
    ASSERT_NO_FATAL_FAILURE(
        ptool({"addkey", "--algorithm=ecc256", label, "--key-label=tpm-ec", user_pin}));
    ASSERT_NO_FATAL_FAILURE(
        ptool({"addkey", "--algorithm=rsa2048", label, "--key-label=tpm-rsa", user_pin}));

    // tpm2-pkcs11's keys may always sign and decrypt; the agent serves such a key for
    // decryption only until a certificate says it signs (the P-256 key has no decryption to
    // serve, so it signs). The RSA key's certificate for signing, as enrolment would store it.
    const std::string pub = (dir_ / "tpm-rsa.pub.der").string();
    auto read =
        run_command({"pkcs11-tool", "--module", kModule, "--token-label", kLabel, "--read-object",
                     "--type", "pubkey", "--label", "tpm-rsa", "--output-file", pub});
    ASSERT_EQ(read.exit_code, 0) << describe(read);
    const std::string der = read_file(pub);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    PkeyPtr rsa(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(rsa) << "the TPM's RSA public key does not parse";
    const std::string cert = (dir_ / "tpm-rsa.crt").string();
    write_file(cert, TestCa::to_pem(ca_.issue(rsa.get(), "tpm-rsa", Usage::sign)));
    ASSERT_NO_FATAL_FAILURE(ptool({"addcert", label, "--key-label=tpm-rsa", cert}));
}

protocol::TokenStatus TpmTokenTest::token() {
    auto s = agent_.client().call(protocol::StatusRequest{});
    const auto& tokens = std::get<protocol::StatusReply>(*s).tokens;
    EXPECT_EQ(tokens.size(), 1u);
    return tokens.at(0);
}

}  // namespace attache::testing
