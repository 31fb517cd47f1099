#pragma once

// The audit chain's key: 32 random bytes in a file only the broker's user can read
// (/etc/attache/audit.key, mode 0400). Whoever holds it can write records that verify, so it
// is loaded only from a file no one else can read or replace, and held in a Secret (locked,
// wiped).

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "pkcs11/secret.h"

namespace attache::audit {

inline constexpr size_t kKeyBytes = 32;
inline constexpr const char* kDefaultKeyPath = "/etc/attache/audit.key";

class AuditKey {
  public:
    // From raw bytes (tests, the fuzzer); the caller wipes its copy.
    static Result<AuditKey> from_bytes(std::string_view bytes);

    // mac_n = HMAC-SHA256(key, mac_{n-1} || body_n).
    Bytes chain_mac(const Bytes& previous_mac, std::string_view body) const;

  private:
    struct MacCtxFree {
        void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
    };
    Secret secret_;
    // HMAC-SHA256 keyed once; each MAC works on a copy (EVP_MAC_CTX_dup): checking a file of
    // a million records took 3.1 s of CPU this way, 3.8 s fetching and keying HMAC per record.
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> keyed_;
};

// Loads the key from `path`: a regular file (not a symbolic link) of exactly kKeyBytes bytes,
// owned by the caller (or read by root), without any permission for group or others. Anything
// else is refused with a message saying how to fix it.
Result<AuditKey> load_audit_key(const std::string& path);

// Creates a new key file at `path`: 32 bytes from the system's random source, written to a
// temporary file beside it (mode 0400), flushed, and linked into place, so the key is whole
// or absent. Refuses to replace an existing key: records written with it could no longer be
// verified.
Status create_audit_key(const std::string& path);

}  // namespace attache::audit
