#include "tests/support/socket_pair.h"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace attache::testing {

SocketPair socket_pair() {
    int fds[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        throw std::system_error(errno, std::generic_category(), "socketpair");
    return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace attache::testing
