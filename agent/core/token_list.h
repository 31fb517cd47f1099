#pragma once

// The tokens the agent knows of, present or absent, each tagged with the configured module
// (its index) it came from. Shared by the modules' watchers, which add and remove tokens, and
// by everything that looks tokens up.

#include <p11-kit/pkcs11.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/token.h"

namespace attache::agent {

class TokenList {
  public:
    std::vector<std::shared_ptr<Token>> all() const;
    // The present token of module `source` in `slot`; null: none.
    std::shared_ptr<Token> present(size_t source, CK_SLOT_ID slot) const;
    // Every present token of module `source`.
    std::vector<std::shared_ptr<Token>> present_of(size_t source) const;
    // Adds a token just found. An absent entry of the same card (module and serial) goes: the
    // card is back. Returns that entry's last lock reason (why it went), empty when none.
    std::string add(size_t source, std::shared_ptr<Token> token);

  private:
    struct Entry {
        size_t source;
        std::shared_ptr<Token> token;
    };
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
};

}  // namespace attache::agent
