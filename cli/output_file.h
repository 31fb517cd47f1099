#pragma once

// Where a command writes its result (`--out PATH`), for user and admin commands alike. Made in
// two steps, so that a destination that will be refused is refused before the card works:
//
//   prepare(PATH)  checks PATH and gets ready to write, changing nothing a user can see;
//   write()...     the data;
//   commit()       puts it in place.
//
// What PATH may be:
//   "" or "-"                        standard output
//   /dev/stdout, /dev/stderr,
//   /dev/fd/N, /proc/self/fd/N       that open file descriptor, written as it is (not reopened)
//   absent, or a regular file        a temporary file made beside it (mkstemp, `mode`), renamed
//                                    over PATH by commit(): whole or not at all. With
//                                    `replace = false` an existing PATH is refused.
//   a character device or a FIFO     opened and written in place (never replaced)
//   a symbolic link                  refused, its target untouched
//   anything else (directory, ...)   refused
// An OutputFile destroyed without commit() removes its temporary file.

#include <string>
#include <string_view>

#include "pkcs11/bytes.h"
#include "pkcs11/result.h"

namespace attache::cli {

struct OutputRules {
    unsigned mode = 0600;  // of a new file
    bool replace = true;   // may an existing regular file be replaced
};

class OutputFile {
  public:
    static Result<OutputFile> prepare(const std::string& path, OutputRules rules = {});

    OutputFile(OutputFile&& other) noexcept;
    OutputFile& operator=(OutputFile&&) = delete;
    OutputFile(const OutputFile&) = delete;
    ~OutputFile();

    Status write(std::string_view data);
    Status write(const Bytes& data) {
        return write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    }
    Status commit();

    // True when the data goes to this process's standard output (so a command printing JSON
    // there must carry the data inside the JSON instead).
    bool is_stdout() const { return stdout_; }
    // The path as given ("-" for standard output).
    const std::string& path() const { return path_; }

  private:
    enum class Kind { descriptor, in_place, replace_file };
    OutputFile(std::string path, Kind kind, int fd, bool owns_fd);

    std::string path_;
    Kind kind_;
    int fd_ = -1;
    bool owns_fd_ = false;
    bool stdout_ = false;
    bool replace_ = true;
    std::string temp_;  // replace_file: the temporary file beside path_
    bool committed_ = false;
};

// prepare, write, commit: for data that exists before the destination is checked.
Status write_output(const std::string& path, std::string_view data, OutputRules rules = {});

}  // namespace attache::cli
