#pragma once

// A PIN or other short secret. The bytes live in their own page of memory that is locked
// (mlock: never swapped), excluded from core dumps (MADV_DONTDUMP) and wiped with
// OPENSSL_cleanse before it is unmapped. Move-only; never printed.

#include <cstddef>
#include <string_view>

namespace attache {

class Secret {
  public:
    // Largest secret accepted; PINs are far shorter (PKCS#11 tokens report ulMaxPinLen).
    static constexpr size_t kCapacity = 1024;

    Secret();
    ~Secret();
    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;

    // Copies bytes in; the caller wipes its own copy. Returns false when it does not fit.
    static bool from(std::string_view bytes, Secret& out);

    // Appends one byte; false when full.
    bool push_back(unsigned char c);
    void pop_back();
    void clear();
    // Removes one trailing "\n" or "\r\n" (as read from a file or a pipe).
    void strip_newline();

    const unsigned char* data() const { return data_; }
    unsigned char* data() { return data_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    bool valid() const { return data_ != nullptr; }

  private:
    void release() noexcept;

    unsigned char* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace attache
