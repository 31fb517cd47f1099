#include "tests/support/loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pkcs11/agent_protocol/unique_fd.h"

namespace attache::testing {

namespace {

// Binds a socket to 127.0.0.1:port (0: any free one); the port bound, or -1.
int bind_loopback(int port) {
    UniqueFd s(socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

}  // namespace

int free_port() {
    return bind_loopback(0);
}

int free_port_pair() {
    for (int i = 0; i < 100; ++i) {
        const int port = bind_loopback(0);
        if (port > 0 && port < 65535 && bind_loopback(port + 1) == port + 1)
            return port;
    }
    return -1;
}

}  // namespace attache::testing
