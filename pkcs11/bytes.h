#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attache {

using Bytes = std::vector<std::uint8_t>;

inline Bytes to_bytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}
inline std::string to_string(const Bytes& b) {
    return std::string(b.begin(), b.end());
}

// Lower-case hex, no separators.
std::string hex(const std::uint8_t* data, size_t size);
inline std::string hex(const Bytes& b) {
    return hex(b.data(), b.size());
}

}  // namespace attache
