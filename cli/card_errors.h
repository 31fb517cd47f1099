#pragma once

// What a PKCS#11 error means for the person at the card, in words ("the card is full"), for
// messages. The CKR_ name itself belongs in a failure's detail (--verbose) and in logs.

#include <p11-kit/pkcs11.h>

#include <string>

namespace attache::cli {

std::string card_error_text(CK_RV rv);

}  // namespace attache::cli
