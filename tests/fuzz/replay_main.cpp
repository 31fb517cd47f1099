// A main() for fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once on every file
// given, directories meaning every regular file in them (sorted, not recursive). The target
// aborts on a finding, so a corpus (seeds plus crash regressions) replays as a plain test with
// any compiler. cmake/Fuzz.cmake links it into each <name>_replay program.
//
// Usage: PROGRAM CORPUS_DIR_OR_FILE...
// Exit status: 0 when every input ran, 1 when an argument names nothing to run.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool collect(const fs::path& arg, std::vector<fs::path>& out) {
    std::error_code ec;
    if (fs::is_regular_file(arg, ec)) {
        out.push_back(arg);
        return true;
    }
    if (!fs::is_directory(arg, ec)) {
        std::fprintf(stderr, "%s: no such file or directory\n", arg.c_str());
        return false;
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec))
            files.push_back(it->path());
    }
    if (ec) {
        std::fprintf(stderr, "%s: %s\n", arg.c_str(), ec.message().c_str());
        return false;
    }
    if (files.empty()) {
        std::fprintf(stderr, "%s: empty corpus\n", arg.c_str());
        return false;
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
    return true;
}

bool read_file(const fs::path& path, std::vector<uint8_t>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        if (!collect(argv[i], inputs))
            return 1;
    }
    std::vector<uint8_t> data;
    for (const auto& path : inputs) {
        if (!read_file(path, data)) {
            std::fprintf(stderr, "%s: cannot read\n", path.c_str());
            return 1;
        }
        // Named before running, so a crash's last line names its input.
        std::printf("%s (%zu bytes)\n", path.c_str(), data.size());
        std::fflush(stdout);
        // Like libFuzzer: exactly `size` readable bytes at a non-null address, so a read past
        // the end shows under ASan.
        std::vector<uint8_t> exact(data.begin(), data.end());
        static const uint8_t kNothing = 0;
        LLVMFuzzerTestOneInput(exact.empty() ? &kNothing : exact.data(), exact.size());
    }
    std::printf("%zu inputs replayed\n", inputs.size());
    return 0;
}
