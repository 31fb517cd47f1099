#include "tests/fuzz/helper_client_driver.h"

#include <functional>
#include <vector>

#include "pkcs11/module_helper/client/client_calls.h"
#include "tests/fuzz/fuzz_check.h"

namespace attache::fuzz {
namespace {

namespace calls = p11::module_helper::client_calls;
using p11::module_helper::CallChannel;
using Bytes = std::vector<CK_BYTE>;

CK_RV output_call(CallChannel& ch, size_t offered,
                  CK_RV (*fn)(CallChannel&, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                              CK_ULONG_PTR),
                  bool null_output = false) {
    Bytes in(20, 0x11);
    Bytes out(offered);
    CK_ULONG len = offered;
    const CK_RV rv = fn(ch, 1, in.data(), in.size(), null_output ? nullptr : out.data(), &len);
    if (rv == CKR_OK && !null_output)
        check(len <= offered, "a call answered more bytes than the caller offered");
    return rv;
}

// A combined call (Init and single-part call in one round trip): the output is checked as
// output_call checks it, and an rv that is the Init call's must not be CKR_OK.
CK_RV combined_call(CallChannel& ch, size_t offered,
                    CK_RV (*fn)(CallChannel&, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
                                CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR,
                                p11::module_helper::CallStage*),
                    bool null_output = false) {
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    Bytes in(32, 0x22);
    Bytes out(offered);
    CK_ULONG len = offered;
    auto stage = p11::module_helper::CallStage::operation;
    const CK_RV rv =
        fn(ch, 1, &m, 2, in.data(), in.size(), null_output ? nullptr : out.data(), &len, &stage);
    if (stage == p11::module_helper::CallStage::init) {
        check(rv != CKR_OK, "a combined call's Init stage answered CKR_OK");
        check(len == offered, "a failed Init call changed the output length");
    }
    if (rv == CKR_OK && !null_output)
        check(len <= offered, "a combined call answered more bytes than the caller offered");
    return rv;
}

CK_RV list_call(CallChannel& ch, size_t offered, bool mechanisms) {
    std::vector<CK_ULONG> list(offered);
    CK_ULONG count = offered;
    CK_ULONG* p = offered == 0 ? nullptr : list.data();
    const CK_RV rv = mechanisms ? calls::get_mechanism_list(ch, 1, p, &count)
                                : calls::get_slot_list(ch, CK_TRUE, p, &count);
    if (rv == CKR_OK && p != nullptr)
        check(count <= offered, "a list call answered more items than the caller offered");
    return rv;
}

const std::vector<std::function<CK_RV(CallChannel&)>>& all_calls() {
    static const std::vector<std::function<CK_RV(CallChannel&)>> table = {
        [](CallChannel& ch) {
            CK_INFO i;
            return calls::get_info(ch, &i);
        },
        [](CallChannel& ch) { return list_call(ch, 0, false); },
        [](CallChannel& ch) { return list_call(ch, 4, false); },
        [](CallChannel& ch) {
            CK_SLOT_INFO i;
            return calls::get_slot_info(ch, 1, &i);
        },
        [](CallChannel& ch) {
            CK_TOKEN_INFO i;
            return calls::get_token_info(ch, 1, &i);
        },
        [](CallChannel& ch) { return list_call(ch, 8, true); },
        [](CallChannel& ch) {
            CK_MECHANISM_INFO i;
            return calls::get_mechanism_info(ch, 1, CKM_ECDSA, &i);
        },
        [](CallChannel& ch) {
            Bytes pin = {'1', '2'};
            Bytes label(32, ' ');
            return calls::init_token(ch, 1, pin.data(), pin.size(), label.data());
        },
        [](CallChannel& ch) {
            Bytes pin = {'1'};
            return calls::init_pin(ch, 1, pin.data(), pin.size());
        },
        [](CallChannel& ch) {
            Bytes a = {'1'}, b = {'2', '3'};
            return calls::set_pin(ch, 1, a.data(), a.size(), b.data(), b.size());
        },
        [](CallChannel& ch) {
            CK_SESSION_HANDLE s;
            return calls::open_session(ch, 1, CKF_SERIAL_SESSION, nullptr, nullptr, &s);
        },
        [](CallChannel& ch) { return calls::close_session(ch, 1); },
        [](CallChannel& ch) { return calls::close_all_sessions(ch, 1); },
        [](CallChannel& ch) {
            CK_SESSION_INFO i;
            return calls::get_session_info(ch, 1, &i);
        },
        [](CallChannel& ch) {
            Bytes pin = {'1', '2', '3'};
            return calls::login(ch, 1, CKU_USER, pin.data(), pin.size());
        },
        [](CallChannel& ch) { return calls::login(ch, 1, CKU_USER, nullptr, 0); },
        [](CallChannel& ch) { return calls::logout(ch, 1); },
        [](CallChannel& ch) {
            CK_BBOOL yes = CK_TRUE;
            CK_ATTRIBUTE inner[] = {{CKA_ENCRYPT, &yes, sizeof yes}};
            CK_MECHANISM_TYPE allowed[] = {CKM_ECDSA, CKM_RSA_PKCS};
            CK_ATTRIBUTE t[] = {{CKA_TOKEN, &yes, sizeof yes},
                                {CKA_WRAP_TEMPLATE, inner, sizeof inner},
                                {CKA_ALLOWED_MECHANISMS, allowed, sizeof allowed},
                                {CKA_LABEL, nullptr, 0}};
            CK_OBJECT_HANDLE o;
            return calls::create_object(ch, 1, t, 4, &o);
        },
        [](CallChannel& ch) { return calls::destroy_object(ch, 1, 2); },
        [](CallChannel& ch) {
            Bytes small(2), large(16), nested(sizeof(CK_ATTRIBUTE) * 2);
            CK_ATTRIBUTE t[] = {{CKA_LABEL, nullptr, 0},
                                {CKA_ID, small.data(), small.size()},
                                {CKA_VALUE, large.data(), large.size()},
                                {CKA_WRAP_TEMPLATE, nested.data(), nested.size()}};
            const CK_ULONG offered[] = {0, small.size(), large.size(), nested.size()};
            const CK_RV rv = calls::get_attribute_value(ch, 1, 2, t, 4);
            for (int i = 1; i < 3; ++i) {
                if (rv == CKR_OK)
                    check(t[i].ulValueLen <= offered[i], "an attribute longer than its buffer");
            }
            return rv;
        },
        [](CallChannel& ch) {
            Bytes v(3, 1);
            CK_ATTRIBUTE t[] = {{CKA_LABEL, v.data(), v.size()}};
            return calls::set_attribute_value(ch, 1, 2, t, 1);
        },
        [](CallChannel& ch) {
            CK_OBJECT_CLASS k = CKO_PRIVATE_KEY;
            CK_ATTRIBUTE t[] = {{CKA_CLASS, &k, sizeof k}};
            return calls::find_objects_init(ch, 1, t, 1);
        },
        [](CallChannel& ch) {
            std::vector<CK_OBJECT_HANDLE> found(4);
            CK_ULONG count = 0;
            const CK_RV rv = calls::find_objects(ch, 1, found.data(), found.size(), &count);
            if (rv == CKR_OK)
                check(count <= found.size(), "more objects than asked for");
            return rv;
        },
        [](CallChannel& ch) { return calls::find_objects_final(ch, 1); },
        [](CallChannel& ch) {
            CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
            CK_MECHANISM m{CKM_RSA_PKCS_PSS, &pss, sizeof pss};
            return calls::sign_init(ch, 1, &m, 2);
        },
        [](CallChannel& ch) { return output_call(ch, 0, calls::sign, true); },
        [](CallChannel& ch) { return output_call(ch, 16, calls::sign); },
        [](CallChannel& ch) { return output_call(ch, 128, calls::sign); },
        [](CallChannel& ch) {
            Bytes d(32, 1), s(64, 2);
            return calls::verify(ch, 1, d.data(), d.size(), s.data(), s.size());
        },
        [](CallChannel& ch) {
            Bytes label = {'l', 'b'};
            CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, label.data(),
                                         label.size()};
            CK_MECHANISM m{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
            return calls::decrypt_init(ch, 1, &m, 2);
        },
        [](CallChannel& ch) { return output_call(ch, 32, calls::decrypt); },
        [](CallChannel& ch) {
            Bytes iv(16, 0);
            CK_MECHANISM m{CKM_AES_CBC_PAD, iv.data(), iv.size()};
            return calls::encrypt_init(ch, 1, &m, 2);
        },
        [](CallChannel& ch) { return output_call(ch, 256, calls::encrypt); },
        [](CallChannel& ch) {
            CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
            CK_BBOOL yes = CK_TRUE;
            CK_ATTRIBUTE pub[] = {{CKA_VERIFY, &yes, sizeof yes}};
            CK_ATTRIBUTE priv[] = {{CKA_SIGN, &yes, sizeof yes}};
            CK_OBJECT_HANDLE a, b;
            return calls::generate_key_pair(ch, 1, &m, pub, 1, priv, 1, &a, &b);
        },
        [](CallChannel& ch) {
            Bytes point(65, 4);
            CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(), point.data()};
            CK_MECHANISM m{CKM_ECDH1_DERIVE, &p, sizeof p};
            CK_OBJECT_CLASS k = CKO_SECRET_KEY;
            CK_ATTRIBUTE t[] = {{CKA_CLASS, &k, sizeof k}};
            CK_OBJECT_HANDLE out;
            return calls::derive_key(ch, 1, &m, 2, t, 1, &out);
        },
        [](CallChannel& ch) {
            Bytes r(100);
            return calls::generate_random(ch, 1, r.data(), r.size());
        },
        [](CallChannel& ch) {
            CK_SLOT_ID s;
            return calls::wait_for_slot_event(ch, CKF_DONT_BLOCK, &s, nullptr);
        },
        [](CallChannel& ch) {
            CK_SLOT_ID s;
            return calls::wait_for_slot_event(ch, 0, &s, nullptr);
        },
        [](CallChannel& ch) { return combined_call(ch, 64, calls::sign_init_and_sign); },
        [](CallChannel& ch) { return combined_call(ch, 0, calls::sign_init_and_sign, true); },
        [](CallChannel& ch) { return combined_call(ch, 8, calls::sign_init_and_sign); },
        [](CallChannel& ch) {
            Bytes iv(16, 0);
            CK_MECHANISM m{CKM_AES_CBC_PAD, iv.data(), iv.size()};
            Bytes in(32, 0x33), out(48);
            CK_ULONG len = out.size();
            auto stage = p11::module_helper::CallStage::operation;
            const CK_RV rv = calls::decrypt_init_and_decrypt(ch, 1, &m, 2, in.data(), in.size(),
                                                             out.data(), &len, &stage);
            if (rv == CKR_OK)
                check(len <= out.size(), "a combined call answered more bytes than offered");
            return rv;
        },
    };
    return table;
}

}  // namespace

size_t client_call_count() {
    return all_calls().size();
}

CK_RV run_client_call(size_t index, CallChannel& channel) {
    return all_calls().at(index)(channel);
}

}  // namespace attache::fuzz
