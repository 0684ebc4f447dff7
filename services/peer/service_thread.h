// Constants shared by the peer's service threads.
#pragma once

#include <chrono>

namespace p2p::peer {

// The longest any peer thread polls before checking its stop flag: bounds
// shutdown latency without a control socket per thread.
inline constexpr std::chrono::milliseconds kStopCheckInterval{100};

// inproc endpoint on which transfer workers tell the storage service that a
// file was committed (a 32-byte file id per message).
inline constexpr const char* kCommittedEndpoint = "inproc://p2p-peer-committed";

}  // namespace p2p::peer
