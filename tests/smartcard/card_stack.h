#pragma once

// The real smartcard stack from a test: virtual PIV cards (virtpiv-card) inserted into and
// removed from vpcd's readers of the pcscd that `stack.py run` started around this test binary.
// Every call goes through stack.py, which starts and stops the card processes by their PIDs.

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace attache::testing {

inline constexpr const char* kOpenscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
inline constexpr const char* kSpyModule = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";
inline constexpr const char* kCardPin = "123456";
inline constexpr const char* kCardPuk = "12345678";

class CardStack {
  public:
    // False outside `stack.py run` (the test then skips and says how to run it).
    static bool available();

    // Makes a card's state directory under `dir`: `args` are virtpiv-card create options
    // (--provisioned, --key 9D=p256, --pin-tries 3...). Returns the directory.
    static std::string create(const TempDir& dir, const std::string& name,
                              const std::vector<std::string>& args);
    // The public key (PEM) of a slot of a card, read from its state.
    static std::string public_key(const std::string& card, const std::string& slot);

    // Insert returns once pcscd reports the card; remove once pcscd reports the reader empty.
    void insert(const std::string& card, int reader = 0);
    void remove(int reader = 0);
    void restart_pcscd();

    // The card's own log (one line per security-relevant command) and its VERIFYs with a PIN.
    std::string card_log(int reader = 0) const;
    int pins_presented(int reader = 0) const;

    ~CardStack();

  private:
    CommandResult stack(const std::vector<std::string>& args);
    std::vector<int> inserted_;
};

// Lines of a file that contain `needle` (the spy's log: how many C_Login calls).
int count_lines_with(const std::filesystem::path& file, const std::string& needle);

}  // namespace attache::testing
