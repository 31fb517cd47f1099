#include "tests/faulttoken/module/control_attachment.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "tests/faulttoken/fault_control.h"
#include "tests/faulttoken/module/c_boundary.h"

namespace attache::faulttoken {
namespace {

// A control file mapped by this process, identified by its inode (a path may be reused).
struct MappedControl {
    dev_t device;
    ino_t inode;
    FaultControl* control;
};

std::atomic<ControlBlock*> current_block{nullptr};

std::mutex& attach_mutex() {
    static std::mutex& mutex = *new std::mutex;
    return mutex;
}

std::vector<MappedControl>& mapped_controls() {
    static std::vector<MappedControl>& mapped = *new std::vector<MappedControl>;
    return mapped;
}

[[noreturn]] void fail_to_attach(const char* path, const char* why) {
    std::fprintf(stderr, "attache-faulttoken: control file %s: %s\n", path, why);
    throw RvError{CKR_GENERAL_ERROR};
}

ControlBlock* map_control(const char* path) {
    struct stat info {};
    if (stat(path, &info) != 0) {
        fail_to_attach(path, "cannot stat");
    }
    std::lock_guard lock(attach_mutex());
    for (const MappedControl& mapped : mapped_controls()) {
        if (mapped.device == info.st_dev && mapped.inode == info.st_ino) {
            return &mapped.control->block();
        }
    }
    try {
        auto control = std::make_unique<FaultControl>(FaultControl::open(path));
        mapped_controls().push_back({info.st_dev, info.st_ino, control.get()});
        return &control.release()->block();
    } catch (const std::exception& error) {
        fail_to_attach(path, error.what());
    }
}

}  // namespace

void attach_control_from_environment() {
    const char* path = std::getenv(kControlVariable);
    current_block.store(path && *path ? map_control(path) : nullptr);
}

ControlBlock* current_control() {
    return current_block.load();
}

}  // namespace attache::faulttoken
