// Sanitizer builds only (-DATTACHE_SANITIZE=ON). SoftHSM2 2.6.1 and OpenSC's pkcs11-spy leak a
// little memory inside the modules themselves (OpenSSL objects in SoftHSM2's ECDSA code, the
// spy's buffers at C_Finalize). LeakSanitizer can only name a frame, and so match a suppression,
// when its library is still mapped at exit; but Library unloads a module when the last Module
// using it goes. So these builds keep the two modules mapped (RTLD_NODELETE) and suppress leaks
// whose stacks pass through them. Leaks in Attache's own code are still reported. The stacks of
// those leaks run through libcrypto, which has no frame pointers: only the slow unwinder sees
// the module frames below it, hence fast_unwind_on_malloc=0 (ASAN_OPTIONS can still override).

#if defined(__SANITIZE_ADDRESS__)

#include <dlfcn.h>

#include <initializer_list>

extern "C" const char* __asan_default_options() {
    return "fast_unwind_on_malloc=0";
}

extern "C" const char* __lsan_default_suppressions() {
    return "leak:libsofthsm2.so\n"
           "leak:pkcs11-spy.so\n";
}

namespace {

const bool kModulesPinned = [] {
    for (const char* path :
         {"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/softhsm/libsofthsm2.so",
          "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so"}) {
        // Never closed: the point is to stay mapped. Missing files are simply skipped.
        (void)dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    }
    return true;
}();

}  // namespace

#endif
