#pragma once

// One card reached directly through PC/SC (libpcsclite), for what OpenSC's PKCS#11 module
// cannot do on PIV cards (generate key pairs, write certificates). Connected in shared mode, as
// OpenSC is, inside one PC/SC transaction for the object's whole life, so that no other program
// (an agent, OpenSC itself) interleaves commands between the management-key authentication and
// the writes it allows. The destructor ends the transaction and resets the card: the management
// key's and the PIN's security status on the card end with this object.

#include <winscard.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli::admin::piv {

struct Response {
    Bytes data;
    std::uint16_t sw = 0;
    bool ok() const { return sw == 0x9000; }
};

// "6982 (security status not satisfied)".
std::string status_word_text(std::uint16_t sw);

class PcscCard {
  public:
    // The reader whose name is `reader_name` (OpenSC's slot description: the reader's name,
    // cut to 64 characters and space-padded, so a name that long matches as a prefix).
    static Result<PcscCard> connect(const std::string& reader_name);

    PcscCard(PcscCard&& other) noexcept;
    PcscCard& operator=(PcscCard&&) = delete;
    PcscCard(const PcscCard&) = delete;
    PcscCard& operator=(const PcscCard&) = delete;
    ~PcscCard();

    // One command: command chaining for data over 255 bytes, GET RESPONSE for 61xx. Errors are
    // PC/SC failures only; the card's status word is in the Response.
    Result<Response> command(std::uint8_t ins, std::uint8_t p1, std::uint8_t p2,
                             std::span<const std::uint8_t> data);

    const std::string& reader() const { return reader_; }

  private:
    PcscCard(SCARDCONTEXT context, SCARDHANDLE card, DWORD protocol, std::string reader)
        : context_(context), card_(card), protocol_(protocol), reader_(std::move(reader)) {}
    Result<Response> transmit(const Bytes& apdu);

    SCARDCONTEXT context_ = 0;
    SCARDHANDLE card_ = 0;
    DWORD protocol_ = 0;
    std::string reader_;
};

}  // namespace attache::cli::admin::piv
