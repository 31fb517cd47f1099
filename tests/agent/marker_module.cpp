// A library with a side effect at load time: its constructor writes the file named by
// ATTACHE_TEST_MARKER. `ssh-add -s` of it must never make the agent load it.

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

__attribute__((constructor)) static void write_marker() {
    const char* path = std::getenv("ATTACHE_TEST_MARKER");
    if (path == nullptr)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        (void)!write(fd, "loaded\n", 7);
        close(fd);
    }
}

extern "C" int C_GetFunctionList(void*) {
    return 0;
}
