#include "cli/admin/piv/tlv.h"

namespace attache::cli::admin::piv {
namespace {

void append_tag(Bytes& out, std::uint32_t tag) {
    if (tag > 0xFFFF)
        out.push_back(static_cast<std::uint8_t>(tag >> 16));
    if (tag > 0xFF)
        out.push_back(static_cast<std::uint8_t>(tag >> 8));
    out.push_back(static_cast<std::uint8_t>(tag));
}

void append_length(Bytes& out, size_t n) {
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xFF) {
        out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
    } else if (n <= 0xFFFF) {
        out.insert(out.end(),
                   {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    } else {
        out.insert(out.end(), {0x83, static_cast<std::uint8_t>(n >> 16),
                               static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    }
}

}  // namespace

Bytes tlv(std::uint32_t tag, std::span<const std::uint8_t> value) {
    Bytes out;
    out.reserve(value.size() + 8);
    append_tag(out, tag);
    append_length(out, value.size());
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

Result<std::optional<Bytes>> find_tlv(std::span<const std::uint8_t> data, std::uint32_t tag) {
    size_t i = 0;
    while (i < data.size()) {
        // Tag: a first byte with all low five bits set continues while bit 8 is set.
        std::uint32_t t = data[i++];
        if ((t & 0x1F) == 0x1F) {
            do {
                if (i >= data.size() || t > 0xFFFF)
                    return Error("malformed TLV tag in the card's answer");
                t = (t << 8) | data[i];
            } while ((data[i++] & 0x80) != 0);
        }
        if (i >= data.size())
            return Error("TLV without a length in the card's answer");
        size_t len = data[i++];
        if (len & 0x80) {
            size_t count = len & 0x7F;
            if (count == 0 || count > 3 || i + count > data.size())
                return Error("malformed TLV length in the card's answer");
            len = 0;
            for (size_t k = 0; k < count; ++k)
                len = (len << 8) | data[i++];
        }
        if (len > data.size() - i)
            return Error("TLV longer than the card's answer");
        if (t == tag)
            return std::optional<Bytes>(Bytes(data.begin() + static_cast<std::ptrdiff_t>(i),
                                              data.begin() + static_cast<std::ptrdiff_t>(i + len)));
        i += len;
    }
    return std::optional<Bytes>();
}

}  // namespace attache::cli::admin::piv
