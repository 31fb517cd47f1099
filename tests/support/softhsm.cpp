#include "tests/support/softhsm.h"

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <stdexcept>

#include "tests/support/command.h"

namespace attache::testing {

SoftHsm::SoftHsm() {
    std::filesystem::create_directory(dir_ / "tokens");
    write_file(dir_ / "softhsm2.conf", "directories.tokendir = " + (dir_ / "tokens").string() +
                                           "\nobjectstore.backend = file\nlog.level = ERROR\n"
                                           "slots.removable = false\n");
    if (const char* prev = std::getenv("SOFTHSM2_CONF")) {
        had_previous_conf_ = true;
        previous_conf_ = prev;
    }
    setenv("SOFTHSM2_CONF", conf_path().c_str(), 1);
}

SoftHsm::~SoftHsm() {
    if (had_previous_conf_) {
        setenv("SOFTHSM2_CONF", previous_conf_.c_str(), 1);
    } else {
        unsetenv("SOFTHSM2_CONF");
    }
}

const std::string& SoftHsm::module_path() {
    static const std::string path = [] {
        for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so",
                              "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
            if (std::filesystem::exists(p))
                return std::string(p);
        }
        throw std::runtime_error("SoftHSM2 module not found; run scripts/install-deps.sh");
    }();
    return path;
}

CK_SLOT_ID SoftHsm::add_token(const std::string& label) {
    auto r = run_command({"softhsm2-util", "--init-token", "--free", "--label", label, "--pin",
                          kUserPin, "--so-pin", kSoPin},
                         {}, {{"SOFTHSM2_CONF", conf_path()}});
    std::smatch m;
    static const std::regex slot_re("reassigned to slot ([0-9]+)");
    if (r.exit_code != 0 || !std::regex_search(r.out, m, slot_re)) {
        throw std::runtime_error("softhsm2-util --init-token failed: " + describe(r));
    }
    return static_cast<CK_SLOT_ID>(std::stoul(m[1].str()));
}

}  // namespace attache::testing
