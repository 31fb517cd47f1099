#include "cli/admin/atomic_file.h"

#include <cstdio>

#include "cli/output_file.h"

namespace attache::cli::admin {

Status write_new_file(const std::string& path, const std::string& content, unsigned mode) {
    return write_output(path, content, {.mode = mode, .replace = false});
}

void WrittenFiles::undo() {
    for (const std::string& p : paths_)
        std::remove(p.c_str());
    paths_.clear();
}

}  // namespace attache::cli::admin
