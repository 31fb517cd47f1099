#include "tests/protocol/layout.h"

namespace attache::protocol::layout {
namespace {

using Layout = std::vector<Kind>;

const Layout kToken = {Kind::string, Kind::string,  Kind::string,  Kind::string,
                       Kind::string, Kind::boolean, Kind::boolean, Kind::u64,
                       Kind::u64,    Kind::string,  Kind::u32};
const Layout kKey = {Kind::string, Kind::string, Kind::string, Kind::string, Kind::string,
                     Kind::string, Kind::key_type, Kind::u32, Kind::u32, Kind::boolean,
                     Kind::string, Kind::string, Kind::string,
                     // version 2: always_authenticate, decrypt_support, certificate_label
                     Kind::boolean, Kind::u32, Kind::string};
const Layout kAuthority = {Kind::string, Kind::string, Kind::string, Kind::string, Kind::string};

std::optional<Layout> request_layout(uint8_t type) {
    switch (type) {
        case 1:  // hello
            return Layout{Kind::u32, Kind::u32, Kind::string};
        case 2:  // status
        case 3:  // list-keys
            return Layout{};
        case 4:  // sign (version 2: has_context_pin, context_pin)
            return Layout{Kind::string,  Kind::sign_scheme, Kind::hash,    Kind::boolean, Kind::u32,
                          Kind::boolean, Kind::string,      Kind::boolean, Kind::string};
        case 5:  // decrypt (version 2: has_context_pin, context_pin)
            return Layout{Kind::string, Kind::decrypt_scheme, Kind::hash,  Kind::string,
                          Kind::string, Kind::boolean,        Kind::string};
        case 6:  // derive
            return Layout{Kind::string, Kind::string};
        case 7:  // unlock: token, confirm_final_try, has_pin, pin
            return Layout{Kind::string, Kind::boolean, Kind::boolean, Kind::string};
        case 8:  // lock
            return Layout{Kind::string};
        case 9:   // random
        case 10:  // audit-log: max_records
            return Layout{Kind::u32};
        default:
            return std::nullopt;
    }
}

std::optional<Layout> reply_layout(uint8_t type) {
    switch (type) {
        case 0x81:
            return Layout{Kind::u32, Kind::string};
        case 0x82:
            return Layout{Kind::string, Kind::u32, Kind::string, Kind::string, Kind::token_list};
        case 0x83:  // version 2: the authority certificates follow the keys
            return Layout{Kind::key_list, Kind::authority_list};
        case 0x84:  // sign
        case 0x85:  // decrypt
        case 0x86:  // derive
        case 0x89:  // random
            return Layout{Kind::string};
        case 0x87:
            return Layout{Kind::string, Kind::boolean};
        case 0x88:
            return Layout{Kind::u32};
        case 0x8a:  // audit-log: records, omitted
            return Layout{Kind::audit_record_list, Kind::u32};
        case 0xff:
            return Layout{Kind::error_code, Kind::u64, Kind::u64, Kind::string};
        default:
            return std::nullopt;
    }
}

class Walker {
  public:
    explicit Walker(std::span<const uint8_t> body) : body_(body) {}

    bool walk(const Layout& layout) {
        for (Kind kind : layout) {
            if (!one(kind))
                return false;
        }
        return true;
    }

    size_t pos() const { return pos_; }
    std::vector<Field> take() { return std::move(fields_); }

  private:
    bool skip(size_t n) {
        if (body_.size() - pos_ < n)
            return false;
        pos_ += n;
        return true;
    }

    bool u32(uint32_t& v) {
        if (body_.size() - pos_ < 4)
            return false;
        v = 0;
        for (size_t i = 0; i < 4; ++i)
            v = (v << 8) | body_[pos_ + i];
        pos_ += 4;
        return true;
    }

    bool list(const Layout& entry) {
        uint32_t count;
        if (!u32(count))
            return false;
        for (uint32_t i = 0; i < count; ++i) {
            if (!walk(entry))
                return false;
        }
        return true;
    }

    // u64 seq, string time, field count, then that many (name, value) strings.
    bool audit_records() {
        uint32_t count;
        if (!u32(count))
            return false;
        for (uint32_t i = 0; i < count; ++i) {
            uint32_t fields;
            if (!one(Kind::u64) || !one(Kind::string))
                return false;
            fields_.push_back(Field{Kind::field_count, pos_});
            if (!u32(fields))
                return false;
            for (uint32_t f = 0; f < 2 * fields; ++f) {
                if (!one(Kind::string))
                    return false;
            }
        }
        return true;
    }

    bool one(Kind kind) {
        fields_.push_back(Field{kind, pos_});
        uint32_t len;
        switch (kind) {
            case Kind::u8:
            case Kind::boolean:
            case Kind::sign_scheme:
            case Kind::decrypt_scheme:
            case Kind::hash:
            case Kind::key_type:
                return skip(1);
            case Kind::u32:
            case Kind::error_code:
            case Kind::field_count:
                return skip(4);
            case Kind::u64:
                return skip(8);
            case Kind::string:
                return u32(len) && skip(len);
            case Kind::token_list:
                return list(kToken);
            case Kind::key_list:
                return list(kKey);
            case Kind::authority_list:
                return list(kAuthority);
            case Kind::audit_record_list:
                return audit_records();
        }
        return false;
    }

    std::span<const uint8_t> body_;
    size_t pos_ = 0;
    std::vector<Field> fields_;
};

std::optional<std::vector<Field>> fields(std::span<const uint8_t> body,
                                         const std::optional<Layout>& layout) {
    if (!layout || body.size() < kHeaderSize)
        return std::nullopt;
    Walker w(body.subspan(kHeaderSize));
    if (!w.walk(*layout) || w.pos() != body.size() - kHeaderSize)
        return std::nullopt;
    auto out = w.take();
    for (auto& f : out)
        f.offset += kHeaderSize;
    return out;
}

}  // namespace

std::optional<std::vector<Field>> request_fields(std::span<const uint8_t> body) {
    return fields(body, body.empty() ? std::nullopt : request_layout(body[0]));
}

std::optional<std::vector<Field>> reply_fields(std::span<const uint8_t> body) {
    return fields(body, body.empty() ? std::nullopt : reply_layout(body[0]));
}

}  // namespace attache::protocol::layout
