// Placement: which peers receive a new file (docs/protocol.md 5.2, PLACE).
//
// Most free space first spreads data evenly and puts the roomiest peer at
// the head of the write pipeline. Pure function; no state, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace p2p::tracker {

struct PlacementCandidate {
  std::string peer_id;
  std::string endpoint;
  std::uint64_t free_bytes = 0;
};

// Chooses up to `replicas` of the live `candidates` whose free bytes are at
// least `size`, most free first (ties by peer id, so answers are stable).
// kNoPeers when `candidates` is empty; kNoSpace when none has room.
// REQUIRES: replicas >= 1.
Result<std::vector<PlacementCandidate>> choose_peers(std::vector<PlacementCandidate> candidates, std::uint64_t size,
                                                     std::uint32_t replicas);

}  // namespace p2p::tracker
