#include "tests/faulttoken/fault_control.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include "tests/faulttoken/slot_states.h"
#include "tests/faulttoken/writer_lock.h"

namespace attache::faulttoken {
namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
    throw std::runtime_error("fault control: " + what + " " + path + ": " + std::strerror(errno));
}

// Maps the first sizeof(ControlBlock) bytes of an open file, shared with every other mapper.
void* map_file(int fd, const std::string& path) {
    void* memory = mmap(nullptr, sizeof(ControlBlock), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (memory == MAP_FAILED) {
        throw_errno("cannot mmap", path);
    }
    return memory;
}

// Closes a file descriptor when leaving scope.
struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
};

bool rule_reusable(const Rule& rule) {
    const RuleKind kind = rule.kind.load();
    return kind == RuleKind::kFree || (kind == RuleKind::kFail && rule.remaining.load() == 0);
}

}  // namespace

FaultControl FaultControl::create(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw_errno("cannot create", path);
    }
    FdCloser closer{fd};
    if (ftruncate(fd, sizeof(ControlBlock)) != 0) {
        throw_errno("cannot resize", path);
    }
    ControlBlock* block = new (map_file(fd, path)) ControlBlock();
    block->version.store(kControlVersion);
    block->size.store(sizeof(ControlBlock));
    block->magic.store(kControlMagic, std::memory_order_release);
    return FaultControl(block);
}

FaultControl FaultControl::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        throw_errno("cannot open", path);
    }
    FdCloser closer{fd};
    struct stat info {};
    if (fstat(fd, &info) != 0) {
        throw_errno("cannot stat", path);
    }
    if (info.st_size < static_cast<off_t>(sizeof(ControlBlock))) {
        throw std::runtime_error("fault control: " + path + " is too small to be a control file");
    }
    auto* block = std::launder(reinterpret_cast<ControlBlock*>(map_file(fd, path)));
    if (block->magic.load(std::memory_order_acquire) != kControlMagic ||
        block->version.load() != kControlVersion || block->size.load() != sizeof(ControlBlock)) {
        munmap(block, sizeof(ControlBlock));
        throw std::runtime_error("fault control: " + path +
                                 " is not a control file of this version (run init)");
    }
    return FaultControl(block);
}

FaultControl::FaultControl(FaultControl&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)) {}

FaultControl& FaultControl::operator=(FaultControl&& other) noexcept {
    if (this != &other) {
        if (block_) {
            munmap(block_, sizeof(ControlBlock));
        }
        block_ = std::exchange(other.block_, nullptr);
    }
    return *this;
}

FaultControl::~FaultControl() {
    if (block_) {
        munmap(block_, sizeof(ControlBlock));
    }
}

void FaultControl::set_absent(CK_SLOT_ID slot) {
    SlotState& state = claim_slot_state(*block_, slot);
    // Mark absent before counting the removal: a module that sees the new generation also sees
    // the token gone, so no session can be opened under the new generation before the removal.
    if (state.absent.exchange(1) == 0) {
        state.removals.fetch_add(1);
    }
}

void FaultControl::set_present(CK_SLOT_ID slot) {
    if (slot == kAnySlot) {
        for (SlotState& state : block_->slots) {
            state.absent.store(0);
        }
    } else if (SlotState* state = find_slot_state(*block_, slot)) {
        state->absent.store(0);
    }
}

bool FaultControl::is_absent(CK_SLOT_ID slot) const {
    return token_absent(*block_, slot);
}

void FaultControl::set_serial(CK_SLOT_ID slot, std::string_view serial) {
    if (serial.size() > kMaxSerialLength) {
        throw std::invalid_argument("fault control: serial longer than 16 characters");
    }
    claim_slot_state(*block_, slot).serial.store(serial);
}

void FaultControl::set_nul_padded(bool nul_padded, CK_SLOT_ID slot) {
    claim_slot_state(*block_, slot).nul_padded.store(nul_padded ? 1 : 0);
}

void FaultControl::set_pin_flags(CK_FLAGS flags, CK_SLOT_ID slot) {
    claim_slot_state(*block_, slot).pin_flags.store(flags);
}

void FaultControl::set_max_pin_tries(std::uint32_t tries) {
    block_->max_pin_tries.store(tries);
    for (SlotState& state : block_->slots) {
        state.wrong_pins.store(0);
    }
}

void FaultControl::set_pinpad_pin(std::string_view pin) {
    if (pin.size() > kMaxPinpadPinLength) {
        throw std::invalid_argument("fault control: PIN pad PIN longer than 32 characters");
    }
    block_->pinpad_pin.store(pin);
}

void FaultControl::fail(Fn function, CK_RV rv, CK_SLOT_ID slot, std::int64_t count) {
    add_rule(RuleKind::kFail, function, slot, rv, count < 0 ? -1 : count, 0);
}

void FaultControl::delay(Fn function, std::uint32_t milliseconds, CK_SLOT_ID slot) {
    add_rule(RuleKind::kDelay, function, slot, CKR_OK, 0, milliseconds);
}

void FaultControl::hang(Fn function, CK_SLOT_ID slot) {
    add_rule(RuleKind::kHang, function, slot, CKR_OK, 0, 0);
}

void FaultControl::crash(Fn function, CK_SLOT_ID slot) {
    add_rule(RuleKind::kCrash, function, slot, CKR_OK, 0, 0);
}

void FaultControl::clear_rules() {
    WriterLock lock(*block_);
    for (Rule& rule : block_->rules) {
        rule.kind.store(RuleKind::kFree);
        rule.stamp.store(block_->next_stamp.fetch_add(1) + 1);
    }
}

std::uint64_t FaultControl::count(Fn function) const {
    return block_->calls[index_of(function)].load();
}

std::uint64_t FaultControl::forwarded_count(Fn function) const {
    return block_->forwarded[index_of(function)].load();
}

void FaultControl::reset_counts() {
    for (std::size_t i = 0; i < kFunctionCount; ++i) {
        block_->calls[i].store(0);
        block_->forwarded[i].store(0);
    }
}

void FaultControl::add_rule(RuleKind kind, Fn function, CK_SLOT_ID slot, CK_RV rv,
                            std::int64_t remaining, std::uint64_t delay_ms) {
    WriterLock lock(*block_);
    for (Rule& rule : block_->rules) {
        if (!rule_reusable(rule)) {
            continue;
        }
        rule.kind.store(RuleKind::kWriting);
        rule.function.store(function);
        rule.slot_id.store(slot);
        rule.rv.store(rv);
        rule.remaining.store(remaining);
        rule.delay_ms.store(delay_ms);
        rule.stamp.store(block_->next_stamp.fetch_add(1) + 1);
        rule.kind.store(kind, std::memory_order_release);
        return;
    }
    throw std::length_error("fault control: all " + std::to_string(kMaxRules) +
                            " rules in use; call clear_rules() first");
}

}  // namespace attache::faulttoken
