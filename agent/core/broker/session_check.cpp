#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/core/agent_error.h"
#include "agent/core/broker/steps.h"

namespace attache::agent {

uint64_t proc_start_time(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[1024];
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    // The command name may hold spaces and ')': the fields start after the last ')'.
    const char* p = strrchr(buf, ')');
    if (!p)
        return 0;
    ++p;
    // Field 3 (state) is the first after ')'; the start time is field 22.
    for (int field = 3; field < 22 && *p; ++field) {
        while (*p == ' ')
            ++p;
        while (*p && *p != ' ')
            ++p;
    }
    return strtoull(p, nullptr, 10);
}

Status check_session(const Chain& chain, const StartTimeProbe& start_time_of) {
    const ClientFacts& client = chain.context.client;
    if (client.start_time == 0 || !start_time_of)
        return ok();  // no start time was read at connect: nothing to compare
    if (start_time_of(client.pid) != client.start_time) {
        return agent_error(ErrorCode::refused_by_policy,
                           "the requesting process (pid " + std::to_string(client.pid) +
                               ") has exited; nothing is asked on its behalf");
    }
    return ok();
}

}  // namespace attache::agent
