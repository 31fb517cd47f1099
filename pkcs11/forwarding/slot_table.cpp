#include "pkcs11/forwarding/slot_table.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "pkcs11/forwarding/identity.h"

namespace attache::forwarding {
namespace {

// The card's PIN state flags mirrored to the application; everything else is the module's.
constexpr CK_FLAGS kPinFlags = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
                               CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED |
                               CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED |
                               CKF_SO_PIN_TO_BE_CHANGED;

}  // namespace

CK_SLOT_ID SlotRegistry::id_for(const TokenIdentity& token) {
    std::lock_guard lock(mutex_);
    auto it = ids_.find(token);
    if (it != ids_.end())
        return it->second;
    if (ids_.size() >= kMaxSlots)
        return 0;
    const CK_SLOT_ID id = next_++;
    ids_.emplace(token, id);
    return id;
}

void SlotTable::set_present(SlotState& s, bool present) {
    if (s.present == present)
        return;
    s.present = present;
    ++s.generation;
    s.event = true;
    s.logged_out = false;
    update_view(s);
}

void SlotTable::update_view(SlotState& s) {
    const bool view = s.present && s.status.unlocked && !s.logged_out;
    if (s.logged_in && !view) {
        ++s.login_epoch;
        s.app_login = false;
    }
    s.logged_in = view;
}

void SlotTable::apply(const protocol::StatusReply& status) {
    std::set<CK_SLOT_ID> seen;
    for (const auto& t : status.tokens) {
        TokenIdentity identity{t.label, t.serial};
        const CK_SLOT_ID id = registry_.id_for(identity);
        if (id == 0)
            continue;
        // Two entries for one token (a removed card and its return): the present one wins.
        if (seen.count(id) && !t.present)
            continue;
        seen.insert(id);
        auto [it, added] = slots_.try_emplace(id);
        SlotState& s = it->second;
        if (added) {
            s.id = id;
            s.identity = identity;
        }
        s.status = t;
        set_present(s, t.present);
        if (added && t.present)
            s.event = true;
        update_view(s);
    }
    for (auto& [id, s] : slots_) {
        if (!seen.count(id))
            set_present(s, false);
    }
}

void SlotTable::all_absent() {
    for (auto& [id, s] : slots_)
        set_present(s, false);
}

void SlotTable::mark_absent(CK_SLOT_ID id) {
    if (SlotState* s = find(id))
        set_present(*s, false);
}

void SlotTable::log_out_all() {
    for (auto& [id, s] : slots_) {
        s.status.unlocked = false;
        update_view(s);
    }
}

void SlotTable::mark_locked(CK_SLOT_ID id) {
    if (SlotState* s = find(id)) {
        s->status.unlocked = false;
        update_view(*s);
    }
}

SlotState* SlotTable::find(CK_SLOT_ID id) {
    auto it = slots_.find(id);
    return it == slots_.end() ? nullptr : &it->second;
}

SlotState* SlotTable::find(const TokenIdentity& token) {
    for (auto& [id, s] : slots_) {
        if (s.identity == token)
            return &s;
    }
    return nullptr;
}

std::vector<CK_SLOT_ID> SlotTable::list(bool present_only) const {
    std::vector<CK_SLOT_ID> out;
    for (const auto& [id, s] : slots_) {
        if (!present_only || s.present)
            out.push_back(id);
    }
    return out;
}

std::optional<CK_SLOT_ID> SlotTable::take_event() {
    for (auto& [id, s] : slots_) {
        if (s.event) {
            s.event = false;
            return id;
        }
    }
    return std::nullopt;
}

void pad_field(const std::string& text, unsigned char* field, size_t size) {
    std::memset(field, ' ', size);
    std::memcpy(field, text.data(), std::min(size, text.size()));
}

void fill_slot_info(const SlotState& slot, CK_SLOT_INFO& info) {
    std::memset(&info, 0, sizeof info);
    pad_field("attache-agent: " + slot.identity.label, info.slotDescription,
              sizeof info.slotDescription);
    pad_field(std::string(kManufacturer), info.manufacturerID, sizeof info.manufacturerID);
    info.flags = CKF_REMOVABLE_DEVICE | (slot.present ? CKF_TOKEN_PRESENT : 0);
    info.hardwareVersion = {0, 1};
    info.firmwareVersion = {0, 1};
}

void fill_token_info(const SlotState& slot, CK_TOKEN_INFO& info) {
    std::memset(&info, 0, sizeof info);
    const auto& t = slot.status;
    pad_field(t.label, info.label, sizeof info.label);
    pad_field(t.manufacturer, info.manufacturerID, sizeof info.manufacturerID);
    pad_field(t.model, info.model, sizeof info.model);
    pad_field(t.serial, info.serialNumber, sizeof info.serialNumber);
    info.flags = (static_cast<CK_FLAGS>(t.flags) & kPinFlags) | CKF_RNG | CKF_LOGIN_REQUIRED |
                 CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED |
                 CKF_PROTECTED_AUTHENTICATION_PATH;
    info.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info.ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    info.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info.ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    info.ulMaxPinLen = protocol::kMaxPinSize;
    info.ulMinPinLen = 4;
    info.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info.hardwareVersion = {0, 0};
    info.firmwareVersion = {0, 0};
    std::memset(info.utcTime, ' ', sizeof info.utcTime);
}

}  // namespace attache::forwarding
