// Options every subcommand shares (the global flags of `p2p`).
#pragma once

#include <chrono>
#include <string>

namespace p2p::client {

struct GlobalOptions {
  std::string tracker = "tcp://127.0.0.1:5555";  // --tracker / $P2P_TRACKER
  std::chrono::milliseconds timeout{3000};        // --timeout-ms: each tracker request
  std::chrono::milliseconds chunk_timeout{10000};  // --chunk-timeout-ms: peer requests
  std::chrono::milliseconds hedge_after{1000};     // --hedge-ms: a chunk this late is also asked of another holder
  bool quiet = false;                              // -q: no progress, no warnings
};

}  // namespace p2p::client
