#include "cli/admin/piv/pcsc_card.h"

#include <cstdio>

namespace attache::cli::admin::piv {
namespace {

Error pcsc_error(const std::string& what, LONG rv) {
    return Error(what + ": " + pcsc_stringify_error(rv));
}

// The reader names PC/SC lists (a multi-string).
Result<std::vector<std::string>> list_readers(SCARDCONTEXT context) {
    DWORD size = 0;
    LONG rv = SCardListReaders(context, nullptr, nullptr, &size);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_error("listing the PC/SC readers", rv);
    std::string buffer(size, '\0');
    rv = SCardListReaders(context, nullptr, buffer.data(), &size);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_error("listing the PC/SC readers", rv);
    std::vector<std::string> names;
    for (size_t i = 0; i < buffer.size() && buffer[i] != '\0';) {
        std::string name(buffer.c_str() + i);
        i += name.size() + 1;
        names.push_back(std::move(name));
    }
    return names;
}

bool same_reader(const std::string& pcsc_name, const std::string& slot_description) {
    if (pcsc_name == slot_description)
        return true;
    // PKCS#11 slot descriptions are 64 characters at most.
    return slot_description.size() >= 63 && pcsc_name.starts_with(slot_description);
}

}  // namespace

std::string status_word_text(std::uint16_t sw) {
    char code[8];
    std::snprintf(code, sizeof code, "%04X", sw);
    std::string meaning;
    switch (sw) {
        case 0x6982:
            meaning = "security status not satisfied";
            break;
        case 0x6983:
            meaning = "authentication method blocked";
            break;
        case 0x6A80:
            meaning = "incorrect data";
            break;
        case 0x6A81:
            meaning = "function not supported";
            break;
        case 0x6A82:
            meaning = "not found";
            break;
        case 0x6A84:
            meaning = "not enough memory";
            break;
        case 0x6A86:
            meaning = "incorrect P1 or P2";
            break;
        case 0x6A88:
            meaning = "referenced data not found";
            break;
        case 0x6D00:
            meaning = "instruction not supported";
            break;
        default:
            if ((sw & 0xFFF0) == 0x63C0)
                meaning = std::to_string(sw & 0x0F) + " tries left";
            else
                meaning = "unexpected status";
    }
    return std::string(code) + " (" + meaning + ")";
}

Result<PcscCard> PcscCard::connect(const std::string& reader_name) {
    SCARDCONTEXT context = 0;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &context);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_error("connecting to pcscd", rv);
    auto readers = list_readers(context);
    if (!readers) {
        SCardReleaseContext(context);
        return std::move(readers).error();
    }
    std::string reader;
    for (const std::string& name : *readers) {
        if (same_reader(name, reader_name))
            reader = name;
    }
    if (reader.empty()) {
        SCardReleaseContext(context);
        return Error("PC/SC has no reader named '" + reader_name + "'");
    }
    SCARDHANDLE card = 0;
    DWORD protocol = 0;
    rv = SCardConnect(context, reader.c_str(), SCARD_SHARE_SHARED,
                      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &protocol);
    if (rv != SCARD_S_SUCCESS) {
        SCardReleaseContext(context);
        return pcsc_error("connecting to the card in '" + reader + "'", rv);
    }
    rv = SCardBeginTransaction(card);
    if (rv != SCARD_S_SUCCESS) {
        SCardDisconnect(card, SCARD_LEAVE_CARD);
        SCardReleaseContext(context);
        return pcsc_error("starting a PC/SC transaction on '" + reader + "'", rv);
    }
    return PcscCard(context, card, protocol, std::move(reader));
}

PcscCard::PcscCard(PcscCard&& other) noexcept
    : context_(other.context_),
      card_(other.card_),
      protocol_(other.protocol_),
      reader_(std::move(other.reader_)) {
    other.context_ = 0;
    other.card_ = 0;
}

PcscCard::~PcscCard() {
    if (card_ != 0) {
        // The reset drops the management key's and the PIN's security status.
        SCardEndTransaction(card_, SCARD_RESET_CARD);
        SCardDisconnect(card_, SCARD_RESET_CARD);
    }
    if (context_ != 0)
        SCardReleaseContext(context_);
}

Result<Response> PcscCard::transmit(const Bytes& apdu) {
    const SCARD_IO_REQUEST* pci = protocol_ == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    Bytes out(258);
    DWORD out_len = static_cast<DWORD>(out.size());
    LONG rv = SCardTransmit(card_, pci, apdu.data(), static_cast<DWORD>(apdu.size()), nullptr,
                            out.data(), &out_len);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_error("sending a command to the card", rv);
    if (out_len < 2)
        return Error("the card's answer has no status word");
    out.resize(out_len);
    Response r;
    r.sw = static_cast<std::uint16_t>((out[out_len - 2] << 8) | out[out_len - 1]);
    out.resize(out_len - 2);
    r.data = std::move(out);
    return r;
}

Result<Response> PcscCard::command(std::uint8_t ins, std::uint8_t p1, std::uint8_t p2,
                                   std::span<const std::uint8_t> data) {
    size_t offset = 0;
    Response r;
    do {
        const size_t chunk = std::min<size_t>(255, data.size() - offset);
        const bool last = offset + chunk == data.size();
        Bytes apdu = {static_cast<std::uint8_t>(last ? 0x00 : 0x10), ins, p1, p2};
        if (chunk > 0) {
            apdu.push_back(static_cast<std::uint8_t>(chunk));
            apdu.insert(apdu.end(), data.begin() + static_cast<std::ptrdiff_t>(offset),
                        data.begin() + static_cast<std::ptrdiff_t>(offset + chunk));
        }
        if (last)
            apdu.push_back(0x00);  // Le: as much as the card has
        ATTACHE_TRY(r, transmit(apdu));
        offset += chunk;
        if (!last && !r.ok())
            return r;
    } while (offset < data.size());

    Bytes all = std::move(r.data);
    while ((r.sw >> 8) == 0x61) {
        const Bytes get_response = {0x00, 0xC0, 0x00, 0x00, static_cast<std::uint8_t>(r.sw & 0xFF)};
        ATTACHE_TRY(r, transmit(get_response));
        all.insert(all.end(), r.data.begin(), r.data.end());
    }
    r.data = std::move(all);
    return r;
}

}  // namespace attache::cli::admin::piv
