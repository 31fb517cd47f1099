#include "tests/faulttoken/module/operation_ending.h"

#include <vector>

namespace attache::faulttoken {
namespace {

enum class OperationKind { kNone, kEncrypt, kDecrypt, kDigest, kSign, kVerify };

OperationKind operation_kind(Fn function) {
    switch (function) {
        case Fn::C_Encrypt:
        case Fn::C_EncryptUpdate:
        case Fn::C_EncryptFinal:
            return OperationKind::kEncrypt;
        case Fn::C_Decrypt:
        case Fn::C_DecryptUpdate:
        case Fn::C_DecryptFinal:
            return OperationKind::kDecrypt;
        case Fn::C_Digest:
        case Fn::C_DigestUpdate:
        case Fn::C_DigestKey:
        case Fn::C_DigestFinal:
            return OperationKind::kDigest;
        case Fn::C_Sign:
        case Fn::C_SignUpdate:
        case Fn::C_SignFinal:
            return OperationKind::kSign;
        case Fn::C_Verify:
        case Fn::C_VerifyUpdate:
        case Fn::C_VerifyFinal:
            return OperationKind::kVerify;
        default:
            return OperationKind::kNone;
    }
}

// Larger than any output of a single-part call on one byte or of a final call, so the call
// cannot answer CKR_BUFFER_TOO_SMALL (which would leave the operation active).
constexpr CK_ULONG kScratchSize = 64 * 1024;

}  // namespace

bool injected_failure_ends_operation(Fn function, CK_RV rv) {
    return operation_kind(function) != OperationKind::kNone && rv != CKR_OK &&
           rv != CKR_BUFFER_TOO_SMALL;
}

void end_real_operation(const CK_FUNCTION_LIST& real, Fn function, CK_SESSION_HANDLE session) {
    // A single-part call that does not answer CKR_BUFFER_TOO_SMALL (nor a length query) ends
    // the operation, whatever its outcome; SoftHSM2 resets even when it rejects the call because
    // a multi-part operation is under way. The final call then ends a multi-part operation in a
    // module that did not end it (and is refused harmlessly if nothing is active any more).
    std::vector<CK_BYTE> scratch(kScratchSize);
    CK_BYTE input[1] = {0};
    CK_ULONG length = kScratchSize;
    switch (operation_kind(function)) {
        case OperationKind::kEncrypt:
            real.C_Encrypt(session, input, sizeof input, scratch.data(), &length);
            length = kScratchSize;
            real.C_EncryptFinal(session, scratch.data(), &length);
            break;
        case OperationKind::kDecrypt:
            real.C_Decrypt(session, input, sizeof input, scratch.data(), &length);
            length = kScratchSize;
            real.C_DecryptFinal(session, scratch.data(), &length);
            break;
        case OperationKind::kDigest:
            real.C_Digest(session, input, sizeof input, scratch.data(), &length);
            length = kScratchSize;
            real.C_DigestFinal(session, scratch.data(), &length);
            break;
        case OperationKind::kSign:
            real.C_Sign(session, input, sizeof input, scratch.data(), &length);
            length = kScratchSize;
            real.C_SignFinal(session, scratch.data(), &length);
            break;
        case OperationKind::kVerify:
            // A one-byte signature is wrong for every mechanism; the error ends the operation.
            real.C_Verify(session, input, sizeof input, scratch.data(), 1);
            real.C_VerifyFinal(session, scratch.data(), 1);
            break;
        case OperationKind::kNone:
            break;
    }
}

}  // namespace attache::faulttoken
