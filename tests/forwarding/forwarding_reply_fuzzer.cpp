// Fuzz target: bytes as a reply from the agent, through what attache-pkcs11.so does with it
// inside an application: decode it, turn a status into slots and token info, a key list into
// objects (SPKI and certificate DER parsed with OpenSSL) and their attributes, mechanisms, an
// error into a CK_RV, a derive reply into a key value. Nothing may crash, leak or misbehave.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/forwarding/agent_errors.h"
#include "pkcs11/forwarding/derive.h"
#include "pkcs11/forwarding/key_objects.h"
#include "pkcs11/forwarding/mechanisms.h"
#include "pkcs11/forwarding/sign_input.h"
#include "pkcs11/forwarding/slot_table.h"

namespace {

using namespace attache;
using namespace attache::forwarding;

// Every attribute an application might ask for, read the way applications do.
void read_everything(const AttributeSet& attributes) {
    std::vector<CK_ATTRIBUTE_TYPE> types;
    for (const auto& [type, value] : attributes.values())
        types.push_back(type);
    for (CK_ATTRIBUTE_TYPE t : attributes.sensitive())
        types.push_back(t);
    types.push_back(CKA_VENDOR_DEFINED);
    std::vector<CK_ATTRIBUTE> templ;
    for (CK_ATTRIBUTE_TYPE t : types)
        templ.push_back({t, nullptr, 0});
    (void)attributes.read(templ.data(), templ.size());
    std::vector<Bytes> buffers;
    for (auto& a : templ) {
        const size_t size = a.ulValueLen == CK_UNAVAILABLE_INFORMATION ? 1 : a.ulValueLen;
        buffers.emplace_back(size);
        a.pValue = buffers.back().data();
        a.ulValueLen = buffers.back().size();
    }
    (void)attributes.read(templ.data(), templ.size());
    (void)attributes.matches(templ.data(), templ.size());
}

void handle(const protocol::StatusReply& status) {
    SlotRegistry registry;
    SlotTable table(registry);
    table.apply(status);
    table.apply(status);
    for (CK_SLOT_ID id : table.list(false)) {
        CK_SLOT_INFO si;
        CK_TOKEN_INFO ti;
        fill_slot_info(*table.find(id), si);
        fill_token_info(*table.find(id), ti);
    }
    while (table.take_event()) {
    }
}

void handle(const protocol::ListKeysReply& keys) {
    std::vector<KeySummary> summaries;
    for (const auto& entry : keys.keys) {
        auto built = build_key_objects(entry);
        if (!built)
            continue;
        summaries.push_back({built->key.type, built->key.bits, built->operations});
        for (const auto& object : built->objects)
            read_everything(object.attributes);
        // A signature of the announced size, checked against the key.
        SignSpec spec;
        CK_MECHANISM m{built->key.type == protocol::KeyType::rsa  ? CKM_SHA256_RSA_PKCS
                       : built->key.type == protocol::KeyType::ec ? CKM_ECDSA_SHA256
                                                                  : CKM_EDDSA,
                       nullptr, 0};
        if (parse_sign_mechanism(m, built->key.type, spec) == CKR_OK) {
            SignInput input(spec, built->key);
            Bytes digest;
            const uint8_t data[] = {1, 2, 3};
            if (input.single(data, sizeof data, digest) == CKR_OK) {
                Bytes sig(signature_size(built->key), 0x5a);
                (void)verify_signature(spec, built->key, digest, sig.data(), sig.size());
            }
        }
    }
    for (CK_MECHANISM_TYPE m : mechanism_list(summaries)) {
        CK_MECHANISM_INFO info;
        (void)mechanism_info(m, summaries, info);
    }
}

void handle(const protocol::ErrorReply& error) {
    (void)outcome_of(error, Call::operation);
    (void)outcome_of(error, Call::login);
    (void)outcome_of(error, Call::slot);
}

void handle(const protocol::DeriveReply& reply) {
    EcdhSpec spec;
    spec.kdf = CKD_SHA256_KDF;
    Bytes value;
    (void)derive_value(spec, reply.secret, 32, value);
    spec.kdf = CKD_NULL;
    (void)derive_value(spec, reply.secret, 16, value);
}

template <typename T>
void handle(const T&) {}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto frame = protocol::decode_reply(std::span<const uint8_t>(data, size));
    if (!frame)
        return 0;
    std::visit([](const auto& reply) { handle(reply); }, frame->reply);
    return 0;
}
