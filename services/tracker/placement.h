// Placement: which peers receive a new file (docs/protocol.md 5.2, PLACE).
//
// Most free space first, except among peers whose free space is about the
// same (within 1 / kBalancedShare of the roomiest): those share the files by
// name (rendezvous hashing of name and peer id). Free-space figures are a
// heartbeat old and peers on one disk all report that disk, so "most free"
// alone piles every small file on whichever peers reported last (seen: 12,
// 12, 10 and 2 files on four equal peers). Pure function; no state, no clock.
// Like HDFS's AvailableSpaceBlockPlacementPolicy, which picks at random
// among peers within 10 GB of each other; by name here, so it is repeatable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace p2p::tracker {

struct PlacementCandidate {
  std::string peer_id;
  std::string endpoint;
  std::uint64_t free_bytes = 0;
};

// Peers with at least roomiest - roomiest / kBalancedShare free bytes count
// as equally roomy: a tenth is more than the drift of a heartbeat-old figure.
inline constexpr std::uint64_t kBalancedShare = 10;

// Chooses up to `replicas` of the live `candidates` whose free bytes are at
// least `size`, in write-pipeline order: the equally roomy ones first, ranked
// by a hash of `name` and their peer id, then the others, most free first
// (ties by peer id). The same inputs give the same answer.
// kNoPeers when `candidates` is empty; kNoSpace when none has room.
// REQUIRES: replicas >= 1.
Result<std::vector<PlacementCandidate>> choose_peers(std::vector<PlacementCandidate> candidates, std::uint64_t size,
                                                     std::uint32_t replicas, std::string_view name);

}  // namespace p2p::tracker
