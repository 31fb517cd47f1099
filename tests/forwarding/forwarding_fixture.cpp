#include "tests/forwarding/forwarding_fixture.h"

#include <dlfcn.h>

#include <cstring>
#include <stdexcept>

#include "pkcs11/certificate.h"
#include "pkcs11/keys.h"
#include "pkcs11/names.h"
#include "pkcs11/public_key.h"

namespace attache::testing {

TokenSpec alice_token(bool with_ed25519) {
    TokenSpec t;
    t.label = "alice";
    t.keys = {
        {p11::KeyAlgorithm::ec_p256, "ec-sign", {.sign = true}},
        {p11::KeyAlgorithm::rsa2048, "rsa-sign", {.sign = true}},
        {p11::KeyAlgorithm::rsa2048, "rsa-decrypt", {.decrypt = true}},
        {p11::KeyAlgorithm::ec_p256, "ec-derive", {.derive = true}},
    };
    if (with_ed25519)
        t.keys.insert(t.keys.begin() + 2, {p11::KeyAlgorithm::ed25519, "ed-sign", {.sign = true}});
    return t;
}

const char* forwarding_module_path() {
    return ATTACHE_PKCS11_MODULE_PATH;
}

CK_FUNCTION_LIST* forwarding_module() {
    static CK_FUNCTION_LIST* list = [] {
        void* h = dlopen(ATTACHE_PKCS11_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
        if (h == nullptr)
            throw std::runtime_error(std::string("dlopen: ") + dlerror());
        auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
        if (get == nullptr)
            throw std::runtime_error("no C_GetFunctionList");
        CK_FUNCTION_LIST* l = nullptr;
        if (get(&l) != CKR_OK)
            throw std::runtime_error("C_GetFunctionList failed");
        return l;
    }();
    return list;
}

std::string rv_text(CK_RV rv) {
    return p11::rv_name(rv);
}

void check_rv(CK_RV rv, const char* what) {
    if (rv != CKR_OK)
        throw std::runtime_error(std::string(what) + ": " + rv_text(rv));
}

void ForwardingTest::TearDown() {
    if (initialized_)
        finalize();
}

void ForwardingTest::start_agent(const std::vector<TokenSpec>& tokens,
                                 const AgentOptions& options) {
    for (const auto& spec : tokens) {
        const CK_SLOT_ID slot = agent_.add_token(spec.label, spec.keys);
        hsm_slots_[spec.label] = slot;
        if (!spec.certificates)
            continue;
        auto module = p11::Module::load(SoftHsm::module_path());
        ASSERT_TRUE(module) << module.error().message();
        auto session = module->open_session(slot, true);
        ASSERT_TRUE(session) << session.error().message();
        Secret pin;
        Secret::from(SoftHsm::kUserPin, pin);
        ASSERT_TRUE(session->login(CKU_USER, &pin));
        auto keys = p11::find_keys(*session);
        ASSERT_TRUE(keys) << keys.error().message();
        for (const auto& k : *keys) {
            Usage usage = Usage::sign;
            for (const auto& tk : spec.keys) {
                if (tk.label == k.label)
                    usage = tk.usage.decrypt  ? Usage::decrypt
                            : tk.usage.derive ? Usage::derive
                                              : Usage::sign;
            }
            ASSERT_TRUE(k.pkey) << k.label;
            Bytes der = ca_.issue(k.pkey.get(), spec.label + " " + k.label, usage);
            auto created = p11::create_certificate(*session, der, k.id, k.label);
            ASSERT_TRUE(created) << created.error().message();
            certificates_[k.label] = der;
        }
        (void)session->logout();
    }
    agent_.start(options);
}

void ForwardingTest::initialize() {
    setenv("ATTACHE_SOCK", agent_.socket().c_str(), 1);
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    check_rv(p11().C_Initialize(&args), "C_Initialize");
    initialized_ = true;
}

void ForwardingTest::finalize() {
    initialized_ = false;
    check_rv(p11().C_Finalize(nullptr), "C_Finalize");
}

std::vector<CK_SLOT_ID> ForwardingTest::slots(bool present) {
    CK_ULONG n = 0;
    check_rv(p11().C_GetSlotList(present ? CK_TRUE : CK_FALSE, nullptr, &n), "C_GetSlotList");
    std::vector<CK_SLOT_ID> out(n);
    check_rv(p11().C_GetSlotList(present ? CK_TRUE : CK_FALSE, out.data(), &n), "C_GetSlotList");
    out.resize(n);
    return out;
}

CK_SLOT_ID ForwardingTest::only_slot() {
    auto s = slots();
    if (s.size() != 1)
        throw std::runtime_error("expected one slot, got " + std::to_string(s.size()));
    return s[0];
}

CK_SESSION_HANDLE ForwardingTest::open_session(CK_SLOT_ID slot) {
    CK_SESSION_HANDLE h = 0;
    check_rv(p11().C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &h), "C_OpenSession");
    return h;
}

CK_SESSION_HANDLE ForwardingTest::open_logged_in_session() {
    CK_SESSION_HANDLE h = open_session(only_slot());
    const CK_RV rv = p11().C_Login(h, CKU_USER, nullptr, 0);
    if (rv != CKR_USER_ALREADY_LOGGED_IN)
        check_rv(rv, "C_Login");
    return h;
}

std::vector<CK_OBJECT_HANDLE> ForwardingTest::find_all(CK_SESSION_HANDLE session,
                                                       std::vector<CK_ATTRIBUTE> templ) {
    check_rv(p11().C_FindObjectsInit(session, templ.data(), templ.size()), "C_FindObjectsInit");
    std::vector<CK_OBJECT_HANDLE> out;
    for (;;) {
        CK_OBJECT_HANDLE batch[3];
        CK_ULONG n = 0;
        check_rv(p11().C_FindObjects(session, batch, 3, &n), "C_FindObjects");
        if (n == 0)
            break;
        out.insert(out.end(), batch, batch + n);
    }
    check_rv(p11().C_FindObjectsFinal(session), "C_FindObjectsFinal");
    return out;
}

CK_OBJECT_HANDLE ForwardingTest::find(CK_SESSION_HANDLE session, CK_OBJECT_CLASS klass,
                                      const std::string& label) {
    std::string l = label;
    auto found = find_all(session, {{CKA_CLASS, &klass, sizeof klass},
                                    {CKA_LABEL, l.data(), static_cast<CK_ULONG>(l.size())}});
    if (found.size() > 1)
        throw std::runtime_error("several objects labelled " + label);
    return found.empty() ? CK_INVALID_HANDLE : found[0];
}

Bytes ForwardingTest::attribute(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    check_rv(p11().C_GetAttributeValue(session, object, &a, 1), "C_GetAttributeValue");
    Bytes out(a.ulValueLen);
    a.pValue = out.data();
    check_rv(p11().C_GetAttributeValue(session, object, &a, 1), "C_GetAttributeValue");
    out.resize(a.ulValueLen);
    return out;
}

Bytes ForwardingTest::sign(CK_SESSION_HANDLE session, CK_MECHANISM mechanism, CK_OBJECT_HANDLE key,
                           const Bytes& data) {
    check_rv(p11().C_SignInit(session, &mechanism, key), "C_SignInit");
    CK_ULONG len = 0;
    Bytes in = data;
    check_rv(p11().C_Sign(session, in.data(), in.size(), nullptr, &len), "C_Sign (size)");
    Bytes sig(len);
    check_rv(p11().C_Sign(session, in.data(), in.size(), sig.data(), &len), "C_Sign");
    sig.resize(len);
    return sig;
}

PkeyPtr ForwardingTest::public_key(const std::string& label) {
    auto spki = agent_.key(label).spki;
    auto pkey = p11::pkey_from_spki(spki);
    if (!pkey)
        throw std::runtime_error(pkey.error().message());
    return PkeyPtr(pkey->release());
}

std::string ForwardingTest::public_key_pem(const std::string& label) {
    return write(label + ".pub.pem", TestCa::public_key_pem(public_key(label).get()));
}

std::string ForwardingTest::certificate_pem(const std::string& label) {
    return write(label + ".crt.pem", TestCa::to_pem(certificates_.at(label)));
}

std::string ForwardingTest::write(const std::string& name, const std::string& content) {
    const auto path = agent_.dir() / name;
    write_file(path, content);
    return path.string();
}

std::map<std::string, std::string> ForwardingTest::tool_env() const {
    std::map<std::string, std::string> env{{"ATTACHE_SOCK", agent_.socket()}};
#ifdef ATTACHE_ASAN_RUNTIME
    // The module is ASan-instrumented and the tools are not: they need the runtime first.
    env["LD_PRELOAD"] = ATTACHE_ASAN_RUNTIME;
    env["ASAN_OPTIONS"] = "detect_leaks=0";
#endif
    return env;
}

CommandResult ForwardingTest::tool(const std::vector<std::string>& argv, const std::string& input,
                                   std::map<std::string, std::string> extra_env) {
    auto env = tool_env();
    for (auto& [k, v] : extra_env)
        env[k] = v;
    std::vector<std::string> timed{"timeout", "120"};
    timed.insert(timed.end(), argv.begin(), argv.end());
    return run_command(timed, input, env);
}

}  // namespace attache::testing
