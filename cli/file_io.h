#pragma once

// Input of the CLI's data commands: a path, or "-"/empty for stdin. (Output: output_file.h.)

#include <string>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli {

// Inputs larger than this are refused (the agent's messages are capped at 256 KiB).
inline constexpr size_t kMaxInputSize = 200 * 1024;

Result<Bytes> read_input(const std::string& path);

}  // namespace attache::cli
