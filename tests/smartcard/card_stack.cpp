#include "tests/smartcard/card_stack.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>

namespace attache::testing {
namespace {

std::string env(const char* name) {
    const char* v = getenv(name);
    return v ? v : "";
}

}  // namespace

bool CardStack::available() {
    return !env("ATTACHE_SC_STACK").empty() && !env("ATTACHE_SC_CARD").empty();
}

std::string CardStack::create(const TempDir& dir, const std::string& name,
                              const std::vector<std::string>& args) {
    const std::string path = (dir / name).string();
    std::vector<std::string> argv{env("ATTACHE_SC_CARD"), "create", path};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return path;
}

std::string CardStack::public_key(const std::string& card, const std::string& slot) {
    auto r = run_command({env("ATTACHE_SC_CARD"), "show", card, "--public", slot});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.out;
}

CommandResult CardStack::stack(const std::vector<std::string>& args) {
    std::vector<std::string> argv{env("ATTACHE_SC_STACK")};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r;
}

void CardStack::insert(const std::string& card, int reader) {
    stack({"insert", card, "--reader", std::to_string(reader)});
    inserted_.push_back(reader);
}

void CardStack::remove(int reader) {
    stack({"remove", "--reader", std::to_string(reader)});
    std::erase(inserted_, reader);
}

void CardStack::restart_pcscd() {
    stack({"restart-pcscd"});
}

std::string CardStack::card_log(int reader) const {
    std::ifstream in(std::filesystem::path(env("ATTACHE_SC_RUN")) /
                     ("card-" + std::to_string(reader) + ".log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int CardStack::pins_presented(int reader) const {
    return count_lines_with(
        std::filesystem::path(env("ATTACHE_SC_RUN")) / ("card-" + std::to_string(reader) + ".log"),
        "VERIFY with a PIN");
}

CardStack::~CardStack() {
    // A failed test must not leave its card in the reader for the next one.
    for (int reader : std::vector<int>(inserted_))
        remove(reader);
}

int count_lines_with(const std::filesystem::path& file, const std::string& needle) {
    std::ifstream in(file);
    int n = 0;
    for (std::string line; std::getline(in, line);)
        n += line.find(needle) != std::string::npos;
    return n;
}

}  // namespace attache::testing
