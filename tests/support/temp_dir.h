#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace attache::testing {

// A directory made fresh under $TMPDIR (or /tmp) and removed with everything in it on destruction.
class TempDir {
  public:
    explicit TempDir(const std::string& prefix = "attache-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// Why `uid` cannot reach `path`: the first directory on the way it may not enter (a 0700 home
// or temporary directory); empty when it can. Tests that run something as another user skip
// with this reason rather than fail.
std::string unreachable_for(const std::filesystem::path& path, uid_t uid);

// Writes bytes to a file, replacing it. Aborts the test binary on failure.
void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

}  // namespace attache::testing
