#pragma once

// Files an admin command writes, removed again when the command that wrote them fails.

#include <string>
#include <vector>

#include "pkcs11/result.h"

namespace attache::cli::admin {

// A new file, whole or not at all (cli/output_file.h); refuses to replace anything at `path`.
Status write_new_file(const std::string& path, const std::string& content, unsigned mode);

class WrittenFiles {
  public:
    WrittenFiles() = default;
    ~WrittenFiles() { undo(); }
    WrittenFiles(const WrittenFiles&) = delete;
    WrittenFiles& operator=(const WrittenFiles&) = delete;

    void add(const std::string& path) { paths_.push_back(path); }
    void commit() { paths_.clear(); }
    // Removes the files added and not committed.
    void undo();

  private:
    std::vector<std::string> paths_;
};

}  // namespace attache::cli::admin
