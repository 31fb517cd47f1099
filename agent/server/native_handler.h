#pragma once

// The native protocol on a connection: frames in, dispatcher, frames out.

#include "agent/core/dispatcher.h"
#include "agent/server/connection_handler.h"

namespace attache::agent {

// Once a frame has begun, its rest must arrive within this time: a client that stalls
// mid-message holds only its own connection, and not for long.
inline constexpr int kFrameTimeoutMs = 10'000;

class NativeHandler : public ConnectionHandler {
  public:
    explicit NativeHandler(Dispatcher& dispatcher) : dispatcher_(dispatcher) {}
    void serve(int fd, const ClientFacts& client) override;

  private:
    Dispatcher& dispatcher_;
};

}  // namespace attache::agent
