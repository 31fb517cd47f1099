// Writes the seed corpus of the forwarding_reply fuzz target: replies of the shapes a real
// agent sends (a status with two tokens, key lists with RSA, EC and Ed25519 keys and their
// certificates, errors, operation results).
//
//   forwarding_seed_corpus tests/fuzz/corpus/forwarding_reply

#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/public_key.h"
#include "tests/forwarding/test_ca.h"

using namespace attache;
using attache::testing::PkeyPtr;
using attache::testing::TestCa;

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& frame) {
    // The target takes a frame body: without the u32 length prefix.
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(frame.data() + 4),
              static_cast<std::streamsize>(frame.size() - 4));
}

protocol::KeyEntry entry(EVP_PKEY* key, protocol::KeyType type, const std::string& label,
                         uint32_t ops, const Bytes& certificate) {
    protocol::KeyEntry e;
    e.id = "0123456789abcdef";
    e.uri = "pkcs11:token=alice;object=" + label + ";type=private";
    e.label = label;
    e.cka_id = {0x01, 0x02};
    e.token_label = "alice";
    e.token_serial = "0001";
    e.type = type;
    e.bits = 256;
    e.operations = ops;
    e.served = true;
    e.spki = *p11::spki_der(key);
    e.certificate = certificate;
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    TestCa ca;

    protocol::StatusReply status;
    status.agent = "attache-agent 0.1.0";
    status.pid = 4242;
    protocol::TokenStatus t;
    t.uri = "pkcs11:token=alice;serial=0001";
    t.label = "alice";
    t.serial = "0001";
    t.manufacturer = "SoftHSM project";
    t.model = "SoftHSM v2";
    t.present = true;
    t.unlocked = true;
    t.flags = 0x40d;
    t.key_count = 3;
    status.tokens.push_back(t);
    t.label = "bob";
    t.serial = "0002";
    t.present = false;
    status.tokens.push_back(t);
    write(dir, "status", protocol::encode_reply(2, status));

    PkeyPtr ec = TestCa::generate_ec_key();
    PkeyPtr rsa(EVP_RSA_gen(2048));
    PkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    protocol::ListKeysReply keys;
    keys.keys.push_back(entry(ec.get(), protocol::KeyType::ec, "ec-sign", protocol::kOpSign,
                              ca.issue(ec.get(), "ec", testing::Usage::sign)));
    keys.keys.push_back(entry(rsa.get(), protocol::KeyType::rsa, "rsa-decrypt",
                              protocol::kOpDecrypt,
                              ca.issue(rsa.get(), "rsa", testing::Usage::decrypt)));
    keys.keys.push_back(
        entry(ed.get(), protocol::KeyType::ed25519, "ed-sign", protocol::kOpSign, {}));
    // Version 2 fields: a PIN-per-use key, what the token decrypts, certificate labels of
    // their own, and a CA certificate stored on the token.
    keys.keys[0].always_authenticate = true;
    keys.keys[0].certificate_label = "Alice's signing certificate";
    keys.keys[1].decrypt_support = protocol::kDecryptPkcs1 | protocol::kDecryptOaepSha1;
    keys.keys[1].certificate_label = "rsa-decrypt";
    protocol::AuthorityCertificate authority;
    authority.token_label = "alice";
    authority.token_serial = "0001";
    authority.label = "Test CA";
    authority.certificate = ca.issue(ec.get(), "an issuer", testing::Usage::sign);
    keys.authorities.push_back(authority);
    write(dir, "list_keys", protocol::encode_reply(3, keys));
    protocol::ListKeysReply one;
    one.keys.push_back(
        entry(ec.get(), protocol::KeyType::ec, "ec-derive", protocol::kOpDerive, {}));
    one.keys.back().served = false;
    write(dir, "list_keys_unserved", protocol::encode_reply(4, one));

    write(dir, "error_locked",
          protocol::encode_reply(5, protocol::ErrorReply{protocol::ErrorCode::token_locked, 0x101,
                                                         0, "token is locked"}));
    write(dir, "error_token",
          protocol::encode_reply(6, protocol::ErrorReply{protocol::ErrorCode::refused_by_token,
                                                         0x70, 0, "CKR_MECHANISM_INVALID"}));
    write(dir, "sign", protocol::encode_reply(7, protocol::SignReply{Bytes(64, 0x11)}));
    write(dir, "derive", protocol::encode_reply(8, protocol::DeriveReply{Bytes(32, 0x22)}));
    write(dir, "unlock", protocol::encode_reply(9, protocol::UnlockReply{"alice", true}));
    std::printf("seed corpus written to %s\n", dir.c_str());
    return 0;
}
