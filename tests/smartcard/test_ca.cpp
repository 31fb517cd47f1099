#include "tests/smartcard/test_ca.h"

#include <gtest/gtest.h>

#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {

TestCa::TestCa(std::filesystem::path dir) : dir_(std::move(dir)) {
    auto r = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key(), "-subj",
                          "/CN=Attache test CA", "-days", "30", "-out", pem()});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
}

std::string TestCa::issue(const std::string& csr, const std::string& role, bool rsa) const {
    const std::string ext = (dir_ / (role + ".ext")).string();
    const std::string usage = role == "authentication" ? "digitalSignature"
                              : rsa                    ? "keyEncipherment"
                                                       : "keyAgreement";
    write_file(ext,
               "basicConstraints=CA:FALSE\nkeyUsage=critical," + usage + "\nextendedKeyUsage=" +
                   (role == "authentication" ? "clientAuth,emailProtection" : "emailProtection") +
                   "\n");
    const std::string cert = (dir_ / (role + ".pem")).string();
    auto r = run_command({"openssl", "x509", "-req", "-in", csr, "-CA", pem(), "-CAkey", key(),
                          "-CAcreateserial", "-days", "10", "-extfile", ext, "-out", cert});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return cert;
}

}  // namespace attache::testing
