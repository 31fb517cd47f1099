#pragma once

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

// Writes bytes to a file, replacing it. Aborts the test binary on failure.
void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

}  // namespace attache::testing
