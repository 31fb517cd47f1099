// C_Login(CKU_CONTEXT_SPECIFIC): an application gives the PIN of a CKA_ALWAYS_AUTHENTICATE key
// for the operation it just started (PKCS#11 2.40, 5.6 and 4.9: after C_SignInit or
// C_DecryptInit). The module keeps the PIN in a Secret on that operation only; the
// operation's one sign or decrypt request carries it to the agent (docs/protocol.md, version
// 2), which logs the token in for that operation after its policy allowed it. Nothing checks
// the PIN here: a wrong one fails the operation with CKR_PIN_INCORRECT. A NULL PIN (a PIN
// pad, or NSS's protected authentication path) leaves the answer to the agent's own prompt.

#include "pkcs11/forwarding/module.h"

namespace attache::forwarding {

CK_RV Module::context_login(Session& s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
    std::shared_ptr<const Secret>* slot = nullptr;
    if (s.sign && s.sign->always_authenticate && !s.sign->result)
        slot = &s.sign->context_pin;
    else if (s.decrypt && s.decrypt->always_authenticate && !s.decrypt->result)
        slot = &s.decrypt->context_pin;
    // No operation, or one whose key needs no PIN per use (SoftHSM2 answers the same).
    if (slot == nullptr)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (pin == nullptr && pin_len > 0)
        return CKR_ARGUMENTS_BAD;
    if (pin_len > protocol::kMaxPinSize)
        return CKR_PIN_LEN_RANGE;
    slot->reset();
    if (pin == nullptr || pin_len == 0)
        return CKR_OK;
    Secret secret;
    if (!Secret::from(std::string_view(reinterpret_cast<const char*>(pin), pin_len), secret))
        return CKR_HOST_MEMORY;
    *slot = std::make_shared<const Secret>(std::move(secret));
    return CKR_OK;
}

}  // namespace attache::forwarding
