#include "pkcs11/forwarding/hashes.h"

namespace attache::forwarding {

protocol::HashAlg wire_hash(Hash hash) {
    switch (hash) {
        case Hash::sha1:
            return protocol::HashAlg::sha1;
        case Hash::sha256:
            return protocol::HashAlg::sha256;
        case Hash::sha384:
            return protocol::HashAlg::sha384;
        case Hash::sha512:
            return protocol::HashAlg::sha512;
    }
    return protocol::HashAlg::none;
}

std::optional<Hash> from_wire(protocol::HashAlg hash) {
    switch (hash) {
        case protocol::HashAlg::sha1:
            return Hash::sha1;
        case protocol::HashAlg::sha256:
            return Hash::sha256;
        case protocol::HashAlg::sha384:
            return Hash::sha384;
        case protocol::HashAlg::sha512:
            return Hash::sha512;
        case protocol::HashAlg::none:
            break;
    }
    return std::nullopt;
}

}  // namespace attache::forwarding
