// Thunderbird (Debian's package), headless, driven through Marionette (tests/mail/marionette-run,
// chrome-context scripts): with attache-pkcs11.so added by an enterprise policy
// (policies.json, SecurityDevices; tests/mail/mozilla_fixture.h) it lists the card's
// certificates, signs a message with S/MIME through its own compose code
// (nsIMsgComposeSecure), checked by `openssl cms -verify`, and decrypts S/MIME that OpenSSL
// encrypted to the card's RSA and EC certificates with its own decoder (nsICMSDecoderJS). The agent
// unlocked (no dialog at all: the hang that made this test necessary) and locked (the agent's
// scripted pinentry). Only loopback traffic: other destinations go to a proxy on 127.0.0.1 that
// does not exist.

#include <unistd.h>

#include <filesystem>

#include "tests/forwarding/background.h"
#include "tests/mail/mozilla_fixture.h"
#include "tests/workstation/workstation_support.h"

namespace attache::testing {
namespace {

constexpr const char* kPrefs = R"(user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("network.proxy.no_proxies_on", "");
user_pref("network.proxy.allow_hijacking_localhost", false);
user_pref("network.trr.mode", 5);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.update.auto", false);
user_pref("extensions.update.enabled", false);
user_pref("mail.shell.checkDefaultClient", false);
user_pref("mailnews.start_page.enabled", false);
user_pref("mail.provider.enabled", false);
user_pref("mail.rights.override", true);
user_pref("mail.spotlight.firstRunDone", true);
user_pref("security.OCSP.enabled", 0);
)";

// The module the policy added (its library) and the card's certificates as Thunderbird's
// certificate database lists them. The policy adds the module while Thunderbird starts, so the
// script waits for it (bounded by marionette-run's timeout). Thunderbird's "Please
// authenticate to the security device" dialog, if it opens, creates DIALOG once its script
// has run (from then on it sees the login complete): the locked test's pinentry answers then.
constexpr const char* kListTemplate = R"(
const done = arguments[arguments.length - 1];
(async () => {
  const Cc = Components.classes, Ci = Components.interfaces;
  Services.ww.registerNotification((win, topic) => {
    if (topic != "domwindowopened") return;
    win.addEventListener("load", () => {
      if (!win.document.documentURI.includes("protectedAuth")) return;
      const file = Cc["@mozilla.org/file/local;1"].createInstance(Ci.nsIFile);
      file.initWithPath("DIALOG");
      file.create(Ci.nsIFile.NORMAL_FILE_TYPE, 0o600);
    }, { once: true });
  });
  const modules = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  let module;
  while (!(module = (await modules.listModules()).find(m => m.name == "Attache"))) {
    await new Promise(resolve => Cc["@mozilla.org/timer;1"].createInstance(Ci.nsITimer)
        .initWithCallback(resolve, 100, Ci.nsITimer.TYPE_ONE_SHOT));
  }
  const db = Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB);
  return { module: module.libName,
           certs: db.getCerts().filter(c => c.tokenName == "alice").map(c => c.commonName).sort() };
})().then(done, e => done("error: " + e));
)";

// Signs a text part with the identity's signing certificate (the card's), as Thunderbird's
// composer does, into OUTPUT; returns "ok" or the error.
constexpr const char* kSignTemplate = R"(
const done = arguments[arguments.length - 1];
try {
  const Cc = Components.classes, Ci = Components.interfaces;
  const db = Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB);
  const cert = db.getCerts().find(c => c.tokenName == "alice" && c.commonName == "alice rsa-sign");
  if (!cert) throw new Error("the card's certificate is not listed");
  const accounts = Cc["@mozilla.org/messenger/account-manager;1"].getService(Ci.nsIMsgAccountManager);
  const identity = accounts.createIdentity();
  identity.email = "alice@example.test";
  identity.setUnicharAttribute("signing_cert_name", cert.displayName);
  identity.setCharAttribute("signing_cert_dbkey", cert.dbKey);
  const file = Cc["@mozilla.org/file/local;1"].createInstance(Ci.nsIFile);
  file.initWithPath("OUTPUT");
  const stream = Cc["@mozilla.org/network/file-output-stream;1"].createInstance(Ci.nsIFileOutputStream);
  stream.init(file, 0x02 | 0x08 | 0x20, 0o600, 0);
  const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
  fields.from = "alice@example.test";
  const secure = Cc["@mozilla.org/messengercompose/composesecure;1"].createInstance(Ci.nsIMsgComposeSecure);
  secure.signMessage = true;
  secure.requireEncryptMessage = false;
  stream.write("MIME-Version: 1.0\r\n", 19);
  secure.beginCryptoEncapsulation(stream, "", fields, "", identity, null, false);
  const part = "Content-Type: text/plain; charset=UTF-8\r\n\r\nsigned by the card\r\n";
  secure.mimeCryptoWriteBlock(part, part.length);
  secure.finishCryptoEncapsulation(false, null);
  stream.close();
  done("ok");
} catch (e) {
  done("error: " + e);
}
)";

// Decrypts the DER CMS enveloped data in INPUT with Thunderbird's S/MIME decoder (the one its
// message reader uses) into OUTPUT; returns "ok" or the error.
constexpr const char* kDecryptTemplate = R"(
const done = arguments[arguments.length - 1];
(async () => {
  const encrypted = await IOUtils.read("INPUT");
  const decoder = Components.classes["@mozilla.org/nsCMSDecoderJS;1"]
      .createInstance(Components.interfaces.nsICMSDecoderJS);
  const plain = decoder.decrypt(encrypted);
  if (plain.length == 0) throw new Error("nothing decrypted");
  await IOUtils.write("OUTPUT", new Uint8Array(plain));
  return "ok";
})().then(done, e => done("error: " + e));
)";

class ThunderbirdTest : public MozillaClientTest {
  protected:
    ThunderbirdTest() : MozillaClientTest(thunderbird_app()) {}

    // The profile (the test CA trusted, no module), Marionette on a free port, and the policy
    // that adds the module.
    void make_profile() {
        port_ = free_port();
        MozillaClientTest::make_profile(std::string(kPrefs) + "user_pref(\"marionette.port\", " +
                                        std::to_string(port_) + ");\n");
        write_policy();
        expect_module_not_in_profile();
    }

    // Runs one chrome script in a fresh headless Thunderbird; its JSON result.
    CommandResult script(const std::string& text) {
        const std::string log = (agent_.dir() / "thunderbird.log").string();
        Background thunderbird(under_policy({"thunderbird", "--headless", "--marionette",
                                             "-remote-allow-system-access", "--no-remote",
                                             "--profile", profile_.string()}),
                               log, app_env());
        const std::string file = write("script.js", text);
        // A bound on a hang (the failure this test exists for: before the fix, listing the
        // certificates with the agent unlocked never returned), not a measurement.
        auto r =
            run_command_within(150000, {ATTACHE_MARIONETTE_RUN, std::to_string(port_), file, "90"});
        if (r.exit_code != 0)
            r.err += "\n--- thunderbird's log\n" + read_file(log);
        return r;
    }

    void lists_signs_and_decrypts() {
        std::string list = kListTemplate;
        list.replace(list.find("DIALOG"), 6, dialog_signal());
        auto listed = script(list);
        ASSERT_EQ(listed.exit_code, 0) << describe(listed);
        // The module is the one the policy named (the profile had none: make_profile).
        EXPECT_EQ(listed.out, std::string("{\"module\": \"") + forwarding_module_path() +
                                  "\", \"certs\": [\"alice ec-derive\", \"alice ec-sign\", "
                                  "\"alice rsa-decrypt\", \"alice rsa-sign\"]}\n")
            << describe(listed);

        const std::string out = (agent_.dir() / "signed.eml").string();
        std::string sign = kSignTemplate;
        sign.replace(sign.find("OUTPUT"), 6, out);
        auto s = script(sign);
        ASSERT_EQ(s.exit_code, 0) << describe(s);
        ASSERT_EQ(s.out, "\"ok\"\n") << describe(s);
        const std::string content = (agent_.dir() / "signed.txt").string();
        auto v = run_command({"openssl", "cms", "-verify", "-in", out, "-CAfile", ca_file_,
                              "-purpose", "any", "-out", content});
        EXPECT_EQ(v.exit_code, 0) << describe(v) << read_file(out);
        EXPECT_NE((v.out + v.err).find("Verification successful"), std::string::npos)
            << describe(v);
        EXPECT_NE(read_file(content).find("signed by the card"), std::string::npos);

        // Mail encrypted to the card's certificates (RSA key transport, ECDH key agreement),
        // decrypted by Thunderbird through the card.
        for (const char* label : {"rsa-decrypt", "ec-derive"}) {
            SCOPED_TRACE(label);
            const std::string plain = write("plain.txt", "for the card's eyes only\r\n");
            const std::string enveloped = (agent_.dir() / (std::string(label) + ".p7m")).string();
            // OpenSSL's defaults: RSA key transport; for EC, ECDH with the X9.63 SHA-1 KDF and
            // AES key wrap (Thunderbird derives on the card, unwraps in the module).
            const std::vector<std::string> encrypt = {"openssl",
                                                      "cms",
                                                      "-encrypt",
                                                      "-binary",
                                                      "-aes256",
                                                      "-in",
                                                      plain,
                                                      "-outform",
                                                      "DER",
                                                      "-out",
                                                      enveloped,
                                                      "-recip",
                                                      certificate_pem(label)};
            auto e = run_command(encrypt);
            ASSERT_EQ(e.exit_code, 0) << describe(e);
            const std::string decrypted = (agent_.dir() / (std::string(label) + ".txt")).string();
            std::string decrypt = kDecryptTemplate;
            decrypt.replace(decrypt.find("INPUT"), 5, enveloped);
            decrypt.replace(decrypt.find("OUTPUT"), 6, decrypted);
            auto d = script(decrypt);
            ASSERT_EQ(d.exit_code, 0) << describe(d);
            ASSERT_EQ(d.out, "\"ok\"\n") << describe(d) << agent_.log();
            EXPECT_EQ(read_file(decrypted), read_file(plain));
        }
    }

    // Created when Thunderbird's protected-authentication dialog has loaded.
    std::string dialog_signal() const { return (agent_.dir() / "dialog-loaded").string(); }

    int port_ = 0;
};

TEST_F(ThunderbirdTest, ListsSignsAndDecryptsWithTheAgentUnlocked) {
    start_agent({alice_token(false)});
    agent_.unlock();
    make_profile();
    lists_signs_and_decrypts();
    // No dialog at all: with the agent unlocked the module keeps NSS from opening one.
    EXPECT_FALSE(std::filesystem::exists(dialog_signal()));
}

TEST_F(ThunderbirdTest, ListsSignsAndDecryptsWithTheAgentLockedThroughItsPinentry) {
    // The PIN comes once Thunderbird's own protected-authentication dialog has loaded, as
    // from a person reading it: the dialog misses a login that completes before its script
    // has run (it then never closes: Thunderbird's race, not the module's); with the agent
    // unlocked the module keeps NSS from opening that dialog at all (the test above).
    TestPinentry pinentry;
    pinentry.answer({"after=" + dialog_signal() + " pin " + SoftHsm::kUserPin});
    start_agent({alice_token(false)}, {.pinentry = TestPinentry::program()});
    make_profile();
    lists_signs_and_decrypts();
    EXPECT_EQ(pinentry.prompts(), 1);
    EXPECT_TRUE(std::filesystem::exists(dialog_signal()));
}

}  // namespace
}  // namespace attache::testing
