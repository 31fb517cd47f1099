#include "tests/support/temp_dir.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace attache::testing {

TempDir::TempDir(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed for " + templ);
    }
    path_ = buf.data();
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string unreachable_for(const std::filesystem::path& path, uid_t uid) {
    std::filesystem::path dir = std::filesystem::absolute(path);
    for (;;) {
        struct stat st {};
        if (stat(dir.c_str(), &st) != 0)
            return dir.string() + " does not exist";
        const bool enter =
            st.st_uid == uid ? (st.st_mode & S_IXUSR) != 0 : (st.st_mode & S_IXOTH) != 0;
        if (!enter) {
            return "user " + std::to_string(uid) + " may not enter " + dir.string() +
                   " (move the checkout or TMPDIR somewhere that user can reach)";
        }
        if (dir == dir.root_path())
            return {};
        dir = dir.parent_path();
    }
}

}  // namespace attache::testing
