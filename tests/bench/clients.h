#pragma once

// One benchmark client: a connection (or session) opened in the calling thread, one operation
// per op() call, closed on destruction. The same code serves client threads and client
// processes.

#include <memory>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"
#include "tests/bench/spec.h"

namespace attache::bench {

// The PIN of every benchmark token (SoftHSM2 test tokens made by this harness).
inline constexpr const char* kBenchPin = "123456";
inline constexpr const char* kBenchSoPin = "12345678";

// Error code of an Error meaning "this path cannot do this mechanism at all" (no such SSH
// identity, mechanism unknown to the module), as opposed to a failure.
inline constexpr int kUnsupported = 1;

class Client {
  public:
    virtual ~Client() = default;
    // One operation. The result is what the path returns: a PKCS#11 signature (r||s for
    // ECDSA), an SSH signature blob, or a plaintext.
    virtual Result<Bytes> op() = 0;
};

// Opens a client of `spec` in this thread, performs one operation and checks its result with
// OpenSSL before returning: a client that gives wrong answers is never timed.
Result<std::unique_ptr<Client>> open_client(const ClientSpec& spec);

// PKCS#11 module paths keep, per process and module, one session open for the whole run (an
// anchor), logged in once: a login belongs to the process and ends with its last session.
// SoftHSM2 2.6 rewrites its token file at every C_Login without keeping other processes from
// reading it half-written (they then see no token), so every login is made during setup, one
// process after the other, while nothing else uses the token. `warm_up` makes the anchor of
// `spec`'s module in this process, logging in if needed; later clients reuse it and never log
// in (a client that would have to fails instead).
Status warm_up(const ClientSpec& spec);

// Checks one result of `spec`'s operation against its public key (or expected plaintext).
Status check_result(const ClientSpec& spec, const Bytes& result);

// What the SSH paths sign instead of `message`: an SSHSIG blob (namespace "file", SHA-512 of
// the message) as `ssh-keygen -Y sign` sends it, since Attache's SSH socket refuses data that
// is neither an SSH login nor SSHSIG. ssh-agent gets the same bytes, so the paths compare.
Bytes sshsig_of(const Bytes& message);

}  // namespace attache::bench
