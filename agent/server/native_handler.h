#pragma once

// The native protocol on a connection: frames in, the native front end
// (agent/frontend/native_frontend.h), frames out.

#include "agent/frontend/native_frontend.h"
#include "agent/server/connection_handler.h"

namespace attache::agent {

// Once a frame has begun, its rest must arrive within this time: a client that stalls
// mid-message holds only its own connection, and not for long.
inline constexpr int kFrameTimeoutMs = 10'000;

class NativeHandler : public ConnectionHandler {
  public:
    explicit NativeHandler(NativeFrontend& frontend) : frontend_(frontend) {}
    void serve(int fd, const ClientFacts& client) override;

  private:
    NativeFrontend& frontend_;
};

}  // namespace attache::agent
