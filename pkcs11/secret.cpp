#include "pkcs11/secret.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <utility>

namespace attache {
namespace {

size_t page_size() {
    static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

size_t mapping_size() {
    const size_t page = page_size();
    return (Secret::kCapacity + page - 1) / page * page;
}

}  // namespace

Secret::Secret() {
    void* p =
        mmap(nullptr, mapping_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return;  // valid() is false; callers refuse to use it
    }
    // mlock can fail under a tight RLIMIT_MEMLOCK; the secret is still wiped and not dumped.
    (void)mlock(p, mapping_size());
    (void)madvise(p, mapping_size(), MADV_DONTDUMP);
    data_ = static_cast<unsigned char*>(p);
}

Secret::~Secret() {
    release();
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

void Secret::release() noexcept {
    if (data_ != nullptr) {
        OPENSSL_cleanse(data_, mapping_size());
        munlock(data_, mapping_size());
        munmap(data_, mapping_size());
        data_ = nullptr;
    }
    size_ = 0;
}

bool Secret::from(std::string_view bytes, Secret& out) {
    out.clear();
    if (!out.valid() || bytes.size() > kCapacity) {
        return false;
    }
    for (char c : bytes) {
        out.data_[out.size_++] = static_cast<unsigned char>(c);
    }
    return true;
}

bool Secret::push_back(unsigned char c) {
    if (!valid() || size_ >= kCapacity) {
        return false;
    }
    data_[size_++] = c;
    return true;
}

void Secret::pop_back() {
    if (size_ > 0) {
        data_[--size_] = 0;
    }
}

void Secret::clear() {
    if (data_ != nullptr) {
        OPENSSL_cleanse(data_, size_);
    }
    size_ = 0;
}

void Secret::strip_newline() {
    if (size_ == 0 || data_[size_ - 1] != '\n')
        return;  // a lone trailing '\r' belongs to the secret
    pop_back();
    if (size_ > 0 && data_[size_ - 1] == '\r')
        pop_back();
}

}  // namespace attache
