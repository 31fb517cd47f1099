#pragma once

// Key pairs this run generated, destroyed again unless the enrolment completes: a failure, a
// refused attribute or Ctrl-C leaves the card as it was before the generation.

#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "pkcs11/keygen.h"
#include "pkcs11/public_key.h"
#include "pkcs11/session.h"

namespace attache::cli::admin {

class GeneratedKeys {
  public:
    explicit GeneratedKeys(p11::Session& session) : session_(session) {}
    ~GeneratedKeys() { (void)undo(); }
    GeneratedKeys(const GeneratedKeys&) = delete;
    GeneratedKeys& operator=(const GeneratedKeys&) = delete;

    void add(const p11::KeyPairHandles& handles, const std::string& label);
    // Keeps the keys on the card.
    void commit() { keys_.clear(); }
    // Destroys every key pair added and not committed; says what happened, for the message
    // that tells the operator the card's state. Empty when there was nothing to undo.
    std::string undo();

  private:
    struct Entry {
        p11::KeyPairHandles handles;
        std::string label;
    };
    p11::Session& session_;
    std::vector<Entry> keys_;
};

// The public key of a key pair just generated, read from its public-key object.
Result<p11::Pkey> read_public_key(const p11::Session& session, CK_OBJECT_HANDLE public_key);

}  // namespace attache::cli::admin
