#pragma once

// Managed mode: which cards the broker serves, and to whom. The signed card manifest says it
// (agent/managed/manifest_holders.h); personal mode has no CardHolders and serves every present
// token to the agent's one user.
//
// Decided from what the token shows before any PIN: its serial and model, and the public
// objects (public keys, certificates) it exposes while locked. A token with a copied label and
// serial but other keys is refused before a PIN could reach it; after the unlock, each key used
// must still be one the manifest lists for the card.

#include <string>

#include "agent/core/key_record.h"
#include "agent/core/token.h"

namespace attache::agent {

struct CardVerdict {
    bool served = false;
    // Why not, in words for the user ("the card ... is marked lost in the card manifest").
    std::string reason;
    // The card is not served to anyone (unknown, lost, retired, fake): lock it if it is unlocked.
    bool lock_now = false;
};

class CardHolders {
  public:
    virtual ~CardHolders() = default;
    // May the user with this login name use the token?
    virtual CardVerdict check_card(const Token& token, const std::string& user) = 0;
    // Is the key one the manifest lists for the token's card, to be served?
    virtual bool lists_key(const Token& token, const KeyRecord& key) = 0;
    // Asked of a locked token before any PIN for it is asked or sent: what the token must prove
    // first (managed mode: a fresh challenge signed with the card-auth key the manifest lists,
    // agent/managed/card_auth_challenge.h). Error: the card is not the enrolled one, in words
    // for the user.
    virtual Status check_before_pin(Token& token) {
        (void)token;
        return ok();
    }
};

}  // namespace attache::agent
