#include "pkcs11/agent_protocol/client.h"

#include <openssl/crypto.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "pkcs11/agent_protocol/codec.h"
#include "pkcs11/agent_protocol/stream_io.h"

namespace attache::protocol {
namespace {

// Which earlier replies predict when this one is due (reply_wait.h): key operations by key and
// operation. 0: unpredictable (an unlock may wait for a PIN pad or a prompt), never waited for
// early.
uint64_t latency_kind(const Request& request) {
    auto of = [](uint64_t operation, const std::string& key) -> uint64_t {
        const uint64_t key_hash = std::hash<std::string>{}(key);
        return (key_hash * 31 + operation) | 1;  // never 0
    };
    if (const auto* r = std::get_if<SignRequest>(&request))
        return of(16 * static_cast<uint64_t>(r->scheme) +
                      (r->hash ? 1 + static_cast<uint64_t>(*r->hash) : 0),
                  r->key);
    if (const auto* r = std::get_if<DecryptRequest>(&request))
        return of(1000 + static_cast<uint64_t>(r->scheme), r->key);
    if (const auto* r = std::get_if<DeriveRequest>(&request))
        return of(2000, r->key);
    return 0;
}

}  // namespace

std::string default_socket_path() {
    if (const char* s = std::getenv("ATTACHE_SOCK"); s && *s)
        return s;
    if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d) {
        return std::string(d) + "/attache/agent.sock";
    }
    return "/run/user/" + std::to_string(getuid()) + "/attache/agent.sock";
}

Result<Client> Client::connect(const std::string& path, std::string_view client_name) {
    return connect(AgentEndpoint{path, std::nullopt, "your own agent"}, client_name);
}

Result<Client> Client::connect(const AgentEndpoint& endpoint, std::string_view client_name) {
    const std::string& path = endpoint.path;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        return Error("agent socket path is too long: " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return Error(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        if (endpoint.server_uid)
            return Error("the attache broker is not running (cannot connect to " + path + ": " +
                         std::strerror(err) +
                         "); ask your administrator (systemctl status "
                         "attache-broker)");
        return Error("attache-agent is not running (cannot connect to " + path + ": " +
                     std::strerror(err) +
                     "); start it with `systemctl --user start attache-agent` or `attache-agent`");
    }
    // The PIN goes through this socket: make sure the listener is who it should be, not another
    // process at a path we were pointed to.
    ucred peer{};
    socklen_t len = sizeof peer;
    if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || len != sizeof peer) {
        return Error("cannot check who listens on " + path);
    }
    if (endpoint.server_uid) {
        // The listener's credentials are those of whoever called listen(): systemd's socket
        // unit, or the broker before it left root, is root. Root is out of scope anyway, and
        // only root can put a socket in the broker's root-owned directory.
        if (peer.uid != *endpoint.server_uid && peer.uid != 0)
            return Error("refusing to talk to " + path + ": it is served by uid " +
                         std::to_string(peer.uid) + ", not by " + endpoint.server_name + ", uid " +
                         std::to_string(*endpoint.server_uid));
    } else if (peer.uid != getuid() && peer.uid != 0 && getuid() != 0) {
        // Root may use another user's agent on purpose (an agent with allow_root = true).
        return Error("refusing to talk to " + path + ": it is served by uid " +
                     std::to_string(peer.uid) + ", not by your own agent (uid " +
                     std::to_string(getuid()) + ")");
    }
    Client client(std::move(fd));
    HelloRequest hello;
    hello.client = std::string(client_name);
    ATTACHE_TRY(Reply reply, client.call(hello));
    if (auto* e = std::get_if<ErrorReply>(&reply)) {
        return Error("attache-agent refused the connection: " + e->message);
    }
    auto* h = std::get_if<HelloReply>(&reply);
    if (h == nullptr)
        return Error("attache-agent answered the handshake with something else");
    if (h->version < kMinProtocolVersion || h->version > kProtocolVersion) {
        return Error("attache-agent speaks protocol version " + std::to_string(h->version) +
                     ", this client " + std::to_string(kMinProtocolVersion) + " to " +
                     std::to_string(kProtocolVersion));
    }
    client.agent_version_ = h->agent;
    client.version_ = h->version;
    return client;
}

Result<Reply> Client::call(const Request& request) {
    const uint32_t id = next_id_++;
    const uint64_t kind = latency_kind(request);
    Bytes frame = encode_request(id, request, version_);
    const auto start = std::chrono::steady_clock::now();
    Status sent = stream::write_all(fd_.get(), frame);
    if (carries_pin(request))
        OPENSSL_cleanse(frame.data(), frame.size());
    if (!sent)
        return std::move(sent).error().context("sending to attache-agent");
    const stream::Arrival arrival =
        kind != 0 ? stream::wait_until_due(fd_.get(), latencies_.expected(kind))
                  : stream::Arrival::unpredicted;
    auto body = stream::read_frame(fd_.get(), -1, 30'000);
    if (body && kind != 0) {
        latencies_.record(
            kind,
            std::chrono::duration_cast<stream::Micros>(std::chrono::steady_clock::now() - start),
            arrival);
    }
    if (!body) {
        if (stream::is_closed(body.error())) {
            return Error("attache-agent closed the connection");
        }
        return std::move(body).error().context("reading from attache-agent");
    }
    auto decoded = decode_reply(*body, version_);
    // The body may hold a decrypted plaintext or a derived secret: wiped like the agent's copy.
    OPENSSL_cleanse(body->data(), body->size());
    ATTACHE_TRY(ReplyFrame reply, std::move(decoded));
    if (reply.id != id)
        return Error("attache-agent answered another request");
    return std::move(reply.reply);
}

}  // namespace attache::protocol
