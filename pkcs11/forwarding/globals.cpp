#include "pkcs11/forwarding/globals.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "pkcs11/agent_protocol/agent_endpoint.h"
#include "pkcs11/agent_protocol/client.h"
#include "pkcs11/forwarding/fd_registry.h"
#include "pkcs11/forwarding/log.h"

namespace attache::forwarding {
namespace {

struct Globals {
    std::mutex mutex;  // guards module
    std::shared_ptr<Module> module;
    Globals* abandoned = nullptr;  // a parent's state left behind in a fork() child
};

std::atomic<Globals*> g_globals{nullptr};
// States left behind by fork(), kept reachable (never freed, never touched).
std::atomic<Globals*> g_abandoned{nullptr};
pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

// Slot ids for the life of the process, fork() children included. Never freed.
SlotRegistry& registry() {
    static SlotRegistry& r = *new SlotRegistry;
    return r;
}

Globals& globals() {
    Globals* g = g_globals.load(std::memory_order_acquire);
    if (g != nullptr)
        return *g;
    auto* fresh = new Globals;
    if (g_globals.compare_exchange_strong(g, fresh, std::memory_order_acq_rel))
        return *fresh;
    delete fresh;
    return *g;
}

// In the child of fork(): only the forking thread exists, and any of the parent's locks may
// be held by threads that are gone. The child closes its copies of the agent connections
// without reading from them and forgets the parent's state without touching it: it must
// call C_Initialize again, and the parent's session handles mean nothing here.
void before_fork() {
    registry().lock_for_fork();
}

void after_fork_in_parent() {
    registry().unlock_after_fork();
}

void after_fork_in_child() {
    registry().unlock_after_fork();
    close_registered_fds_in_child();
    Globals* old = g_globals.exchange(nullptr);
    if (old != nullptr) {
        old->abandoned = g_abandoned.load();
        g_abandoned.store(old);
    }
}

void register_atfork() {
    registry();
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

}  // namespace

CK_RV initialize(CK_VOID_PTR init_args) {
    pthread_once(&g_atfork_once, register_atfork);
    if (init_args != nullptr) {
        const auto* args = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
        if (args->pReserved != nullptr)
            return CKR_ARGUMENTS_BAD;
        const bool some =
            args->CreateMutex || args->DestroyMutex || args->LockMutex || args->UnlockMutex;
        const bool all =
            args->CreateMutex && args->DestroyMutex && args->LockMutex && args->UnlockMutex;
        if (some && !all)
            return CKR_ARGUMENTS_BAD;
        // Only the OS's locking is used: callbacks alone cannot be honoured.
        if (all && !(args->flags & CKF_OS_LOCKING_OK))
            return CKR_CANT_LOCK;
    }
    Globals& g = globals();
    {
        std::lock_guard lock(g.mutex);
        if (g.module)
            return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    set_debug(std::getenv("ATTACHE_PKCS11_DEBUG") != nullptr);
    LoadedOptions loaded = load_options();
    if (!loaded.problem.empty())
        notice(loaded.problem + " (no key types are hidden)");
    // Managed mode: the broker's socket and user, and no $ATTACHE_SOCK elsewhere.
    auto endpoint = protocol::agent_endpoint();
    if (!endpoint) {
        notice(endpoint.error().message());
        return CKR_GENERAL_ERROR;
    }
    const std::string socket = endpoint->path;
    auto module = std::make_shared<Module>(loaded.options, std::move(*endpoint), registry());
    debug("C_Initialize: agent socket " + socket +
          ", hidden key types: " + loaded.options.describe() +
          (loaded.source.empty() ? "" : " (from " + loaded.source + ")"));
    module->start();
    std::lock_guard lock(g.mutex);
    if (g.module)
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    g.module = std::move(module);
    return CKR_OK;
}

CK_RV finalize(CK_VOID_PTR reserved) {
    if (reserved != nullptr)
        return CKR_ARGUMENTS_BAD;
    std::shared_ptr<Module> module;
    {
        Globals& g = globals();
        std::lock_guard lock(g.mutex);
        if (!g.module)
            return CKR_CRYPTOKI_NOT_INITIALIZED;
        module = std::move(g.module);
    }
    module->shut_down();
    // Calls still running in other threads hold their own reference; the last one frees it.
    return CKR_OK;
}

std::shared_ptr<Module> current_module() {
    Globals& g = globals();
    std::lock_guard lock(g.mutex);
    return g.module;
}

}  // namespace attache::forwarding
