#include "tests/tpm/tpm_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include <openssl/x509.h>
#include "tests/support/loopback.h"
#include "tests/support/softhsm.h"

namespace attache::testing {
namespace fs = std::filesystem;

void TpmTokenTest::SetUp() {
    for (const char* program : {"/usr/bin/swtpm", "/usr/bin/pkcs11-tool"}) {
        if (access(program, X_OK) != 0)
            GTEST_SKIP() << program << " is missing (scripts/install-deps.sh installs it)";
    }
    if (!fs::exists(kModule))
        GTEST_SKIP() << kModule << " is missing (package libtpm2-pkcs11-1)";

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

    // The library, tpm2-tools (for a look by hand) and the agent (which inherits this
    // environment) reach that TPM and keep their store here.
    const std::string tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(port);
    fs::create_directories(dir_ / "store");
    setenv("TPM2_PKCS11_TCTI", tcti.c_str(), 1);
    setenv("TPM2TOOLS_TCTI", tcti.c_str(), 1);
    setenv("TPM2_PKCS11_STORE", (dir_ / "store").c_str(), 1);

    const std::string so_pin = SoftHsm::kSoPin, pin = SoftHsm::kUserPin;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--slot-index", "0", "--init-token", "--label", kLabel,
                                   "--so-pin", so_pin},
          {"--token-label", kLabel, "--login", "--login-type", "so", "--so-pin", so_pin,
           "--init-pin", "--pin", pin},
          {"--token-label", kLabel, "--login", "--pin", pin, "--keypairgen", "--key-type",
           "EC:prime256v1", "--usage-sign", "--label", "tpm-ec", "--id", "01"},
          {"--token-label", kLabel, "--login", "--pin", pin, "--keypairgen", "--key-type",
           "rsa:2048", "--usage-sign", "--label", "tpm-rsa", "--id", "02"}}) {
        auto r = pkcs11_tool(args);
        ASSERT_EQ(r.exit_code, 0) << describe(r);
    }
    // tpm2-pkcs11 ignores the usage asked for: its RSA keys may sign and decrypt, which the
    // agent serves for decryption only until a certificate says the key signs. The
    // certificate for signing, as enrolment would store it.
    const std::string pub = (dir_ / "tpm-rsa.pub.der").string();
    auto read = pkcs11_tool({"--token-label", kLabel, "--read-object", "--type", "pubkey", "--id",
                             "02", "--output-file", pub});
    ASSERT_EQ(read.exit_code, 0) << describe(read);
    const std::string der = read_file(pub);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    PkeyPtr rsa(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(rsa) << "the TPM's RSA public key does not parse";
    const Bytes cert = ca_.issue(rsa.get(), "tpm-rsa", Usage::sign);
    const std::string cert_file = (dir_ / "tpm-rsa.crt.der").string();
    write_file(cert_file, std::string(cert.begin(), cert.end()));
    auto write = pkcs11_tool({"--token-label", kLabel, "--login", "--pin", pin, "--write-object",
                              cert_file, "--type", "cert", "--id", "02", "--label", "tpm-rsa"});
    ASSERT_EQ(write.exit_code, 0) << describe(write);

    agent_.start({.module = kModule});
}

CommandResult TpmTokenTest::pkcs11_tool(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"pkcs11-tool", "--module", kModule};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

protocol::TokenStatus TpmTokenTest::token() {
    auto s = agent_.client().call(protocol::StatusRequest{});
    const auto& tokens = std::get<protocol::StatusReply>(*s).tokens;
    EXPECT_EQ(tokens.size(), 1u);
    return tokens.at(0);
}

std::string TpmTokenTest::public_key_file(const std::string& label) {
    const std::string path = (dir_ / (label + ".pub.pem")).string();
    auto r = agent_.cli({"pubkey", "--key", agent_.key(label).id, "--out", path});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return path;
}

}  // namespace attache::testing
