// `p2p leave PEER_ID [--json]`: asks the tracker to drain a peer
// (docs/replication.md "Leave"). The tracker copies every file that would be
// under-replicated without the peer, then releases it and the peer exits 0.
// The command returns once the tracker has sent the DRAIN order; it does not
// wait for the peer to leave (watch `p2p peers`).
#pragma once

#include <chrono>
#include <string>

#include <zmq.hpp>

#include "client/global_options.h"

namespace p2p::client {

// Returns the process exit code: 0 once the drain started, 4 for an unknown
// or dead peer, 3 when the tracker does not answer. Asks again while the
// tracker is busy, within `retry` of the first busy timeout (a LEAVE of a
// peer already draining drains it again, docs/protocol.md 5.1).
int run_leave(zmq::context_t& ctx, const GlobalOptions& global, const std::string& peer_id, bool json,
              std::chrono::milliseconds retry);

}  // namespace p2p::client
