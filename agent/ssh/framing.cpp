#include "agent/ssh/framing.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

namespace attache::ssh {
namespace {

void wipe(Bytes& b) {
    if (!b.empty())
        OPENSSL_cleanse(b.data(), b.size());
    b.clear();
}

}  // namespace

Bytes frame(ByteView body) {
    if (body.size() > kMaxFrameSize)
        std::abort();  // see the precondition in framing.h
    Writer w;
    w.string(body);
    return w.take();
}

FrameSplitter::~FrameSplitter() {
    OPENSSL_cleanse(header_, sizeof(header_));
    wipe(body_);
    for (Bytes& f : ready_)
        wipe(f);
}

Status FrameSplitter::feed(ByteView data) {
    if (error_)
        return *error_;
    while (!data.empty()) {
        if (header_len_ < 4) {
            const size_t take = std::min(data.size(), 4 - header_len_);
            std::copy_n(data.begin(), take, header_ + header_len_);
            header_len_ += take;
            data = data.subspan(take);
            if (header_len_ < 4)
                break;
            body_len_ = (std::uint32_t{header_[0]} << 24) | (std::uint32_t{header_[1]} << 16) |
                        (std::uint32_t{header_[2]} << 8) | std::uint32_t{header_[3]};
            if (body_len_ == 0 || body_len_ > kMaxFrameSize) {
                error_ = Error(body_len_ == 0
                                   ? std::string("agent frame of length 0")
                                   : "agent frame length " + std::to_string(body_len_) +
                                         " exceeds the limit of " + std::to_string(kMaxFrameSize));
                return *error_;
            }
        }
        const size_t take = std::min<size_t>(data.size(), body_len_ - body_.size());
        append_body(data.first(take));
        data = data.subspan(take);
        if (body_.size() == body_len_) {
            ready_.push_back(std::move(body_));
            body_ = Bytes();
            header_len_ = 0;
            body_len_ = 0;
        }
    }
    return ok();
}

// Grows the body by hand rather than letting the vector reallocate: the capacity never runs
// ahead of twice what has arrived (nor past the frame's length), and the old buffer is wiped
// before it is freed.
void FrameSplitter::append_body(ByteView data) {
    const size_t needed = body_.size() + data.size();
    if (needed > body_.capacity()) {
        const size_t grown = std::max(needed, 2 * body_.capacity());
        Bytes bigger;
        bigger.reserve(std::min<size_t>(grown, body_len_));
        bigger.assign(body_.begin(), body_.end());
        wipe(body_);
        body_ = std::move(bigger);
    }
    body_.insert(body_.end(), data.begin(), data.end());
}

std::optional<Bytes> FrameSplitter::next() {
    if (ready_.empty())
        return std::nullopt;
    Bytes f = std::move(ready_.front());
    ready_.pop_front();
    return f;
}

}  // namespace attache::ssh
