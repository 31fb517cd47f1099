#pragma once

// Input and output of the CLI's data commands: a path, or "-"/empty for stdin/stdout. Output
// files are written to a temporary file beside them and renamed into place, so a failure never
// leaves a truncated file behind. Output files are created 0600 (they may hold plaintexts).

#include <string>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli {

// Inputs larger than this are refused (the agent's messages are capped at 256 KiB).
inline constexpr size_t kMaxInputSize = 200 * 1024;

Result<Bytes> read_input(const std::string& path);
Status write_output(const std::string& path, const Bytes& data);

}  // namespace attache::cli
