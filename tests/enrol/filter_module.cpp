// A PKCS#11 module for the enrolment tests: it forwards every call to a real module (SoftHSM2)
// and, as the environment asks, behaves like a lesser card:
//   ATTACHE_FILTER_TARGET          the real module (required)
//   ATTACHE_FILTER_HIDE            mechanisms to leave out, e.g. "0x1055,0x1057"
//   ATTACHE_FILTER_FULL_AFTER      C_GenerateKeyPair succeeds N times, then CKR_DEVICE_MEMORY
//   ATTACHE_FILTER_KEYGEN_DELAY_MS each C_GenerateKeyPair first sleeps this long
//   ATTACHE_FILTER_TOKEN_FLAGS     flags OR-ed into C_GetTokenInfo (e.g. CKF_SO_PIN_COUNT_LOW)
//   ATTACHE_FILTER_LOG             file that gets one line per C_InitToken, C_Login, C_SetPIN
//   ATTACHE_FILTER_FALSE_ATTRIBUTES boolean attributes C_GetAttributeValue reports as false,
//                                  e.g. "0x163" (CKA_LOCAL): a card that imported its keys
//   ATTACHE_FILTER_LIBRARY_MANUFACTURER C_GetInfo's manufacturerID (e.g. "OpenSC Project": a
//                                  module that says it is OpenSC's, for the choice of the
//                                  enrolment path, which is made from what the module says)
// State is per process: each run of `attache` starts afresh.

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

CK_FUNCTION_LIST g_list;
CK_FUNCTION_LIST* g_real = nullptr;
std::vector<CK_MECHANISM_TYPE> g_hidden;
std::vector<CK_ATTRIBUTE_TYPE> g_false_attributes;
long g_full_after = -1;
long g_generated = 0;
long g_delay_ms = 0;
CK_FLAGS g_extra_flags = 0;
std::string g_log;
std::string g_library_manufacturer;

void log_call(const char* name) {
    if (g_log.empty())
        return;
    if (FILE* f = std::fopen(g_log.c_str(), "a")) {
        std::fprintf(f, "%s\n", name);
        std::fclose(f);
    }
}

std::vector<unsigned long> number_list(const char* text) {
    std::vector<unsigned long> out;
    std::string s = text;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t comma = s.find(',', pos);
        std::string item =
            s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!item.empty())
            out.push_back(std::strtoul(item.c_str(), nullptr, 0));
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    return out;
}

bool hidden(CK_MECHANISM_TYPE m) {
    return std::find(g_hidden.begin(), g_hidden.end(), m) != g_hidden.end();
}

CK_RV get_mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
    CK_ULONG n = 0;
    CK_RV rv = g_real->C_GetMechanismList(slot, nullptr, &n);
    if (rv != CKR_OK)
        return rv;
    std::vector<CK_MECHANISM_TYPE> all(n);
    rv = g_real->C_GetMechanismList(slot, all.data(), &n);
    if (rv != CKR_OK)
        return rv;
    all.resize(n);
    all.erase(std::remove_if(all.begin(), all.end(), hidden), all.end());
    if (list == nullptr) {
        *count = all.size();
        return CKR_OK;
    }
    if (*count < all.size()) {
        *count = all.size();
        return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(all.begin(), all.end(), list);
    *count = all.size();
    return CKR_OK;
}

CK_RV get_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
    if (hidden(type))
        return CKR_MECHANISM_INVALID;
    return g_real->C_GetMechanismInfo(slot, type, info);
}

CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
    CK_RV rv = g_real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK)
        info->flags |= g_extra_flags;
    return rv;
}

CK_RV generate_key_pair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_ATTRIBUTE_PTR pub,
                        CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_count,
                        CK_OBJECT_HANDLE_PTR pub_key, CK_OBJECT_HANDLE_PTR priv_key) {
    if (mechanism != nullptr && hidden(mechanism->mechanism))
        return CKR_MECHANISM_INVALID;
    if (g_delay_ms > 0)
        usleep(static_cast<useconds_t>(g_delay_ms) * 1000);
    if (g_full_after >= 0 && g_generated >= g_full_after)
        return CKR_DEVICE_MEMORY;
    CK_RV rv = g_real->C_GenerateKeyPair(session, mechanism, pub, pub_count, priv, priv_count,
                                         pub_key, priv_key);
    if (rv == CKR_OK)
        ++g_generated;
    return rv;
}

CK_RV get_attribute_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR templ, CK_ULONG count) {
    CK_RV rv = g_real->C_GetAttributeValue(session, object, templ, count);
    for (CK_ULONG i = 0; i < count; ++i) {
        CK_ATTRIBUTE& a = templ[i];
        const bool forced = std::find(g_false_attributes.begin(), g_false_attributes.end(),
                                      a.type) != g_false_attributes.end();
        if (forced && a.pValue != nullptr && a.ulValueLen == sizeof(CK_BBOOL))
            *static_cast<CK_BBOOL*>(a.pValue) = CK_FALSE;
    }
    return rv;
}

CK_RV init_token(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label) {
    log_call("C_InitToken");
    return g_real->C_InitToken(slot, pin, pin_len, label);
}

CK_RV login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
    log_call(user == CKU_SO ? "C_Login SO" : "C_Login USER");
    return g_real->C_Login(session, user, pin, pin_len);
}

CK_RV set_pin(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
              CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len) {
    log_call("C_SetPIN");
    return g_real->C_SetPIN(session, old_pin, old_len, new_pin, new_len);
}

void read_environment() {
    if (const char* hide = std::getenv("ATTACHE_FILTER_HIDE"))
        g_hidden = number_list(hide);
    if (const char* attrs = std::getenv("ATTACHE_FILTER_FALSE_ATTRIBUTES"))
        g_false_attributes = number_list(attrs);
    if (const char* full = std::getenv("ATTACHE_FILTER_FULL_AFTER"))
        g_full_after = std::strtol(full, nullptr, 10);
    if (const char* delay = std::getenv("ATTACHE_FILTER_KEYGEN_DELAY_MS"))
        g_delay_ms = std::strtol(delay, nullptr, 10);
    if (const char* flags = std::getenv("ATTACHE_FILTER_TOKEN_FLAGS"))
        g_extra_flags = std::strtoul(flags, nullptr, 0);
    if (const char* log = std::getenv("ATTACHE_FILTER_LOG"))
        g_log = log;
    if (const char* m = std::getenv("ATTACHE_FILTER_LIBRARY_MANUFACTURER"))
        g_library_manufacturer = m;
}

CK_RV get_info(CK_INFO_PTR info) {
    CK_RV rv = g_real->C_GetInfo(info);
    if (rv == CKR_OK && !g_library_manufacturer.empty()) {
        std::memset(info->manufacturerID, ' ', sizeof info->manufacturerID);
        std::memcpy(info->manufacturerID, g_library_manufacturer.data(),
                    std::min(g_library_manufacturer.size(), sizeof info->manufacturerID));
    }
    return rv;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR out) {
    if (out == nullptr)
        return CKR_ARGUMENTS_BAD;
    if (g_real == nullptr) {
        const char* target = std::getenv("ATTACHE_FILTER_TARGET");
        if (target == nullptr)
            return CKR_GENERAL_ERROR;
        void* handle = dlopen(target, RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr)
            return CKR_GENERAL_ERROR;
        auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
        if (get == nullptr || get(&g_real) != CKR_OK || g_real == nullptr)
            return CKR_GENERAL_ERROR;
        read_environment();
        g_list = *g_real;
        g_list.C_GetMechanismList = get_mechanism_list;
        g_list.C_GetMechanismInfo = get_mechanism_info;
        g_list.C_GetTokenInfo = get_token_info;
        g_list.C_GetInfo = get_info;
        g_list.C_GenerateKeyPair = generate_key_pair;
        g_list.C_GetAttributeValue = get_attribute_value;
        g_list.C_InitToken = init_token;
        g_list.C_Login = login;
        g_list.C_SetPIN = set_pin;
    }
    *out = &g_list;
    return CKR_OK;
}
