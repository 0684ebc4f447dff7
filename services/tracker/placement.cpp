#include "services/tracker/placement.h"

#include <algorithm>

namespace p2p::tracker {

Result<std::vector<PlacementCandidate>> choose_peers(std::vector<PlacementCandidate> candidates, std::uint64_t size,
                                                     std::uint32_t replicas) {
  if (candidates.empty()) return Status{ErrorCode::kNoPeers, "no live peers"};
  const std::size_t live = candidates.size();
  std::erase_if(candidates, [size](const PlacementCandidate& c) { return c.free_bytes < size; });
  if (candidates.empty())
    return Status{ErrorCode::kNoSpace, "none of the " + std::to_string(live) + " live peers has " +
                                           std::to_string(size) + " bytes free"};
  std::sort(candidates.begin(), candidates.end(), [](const PlacementCandidate& a, const PlacementCandidate& b) {
    return a.free_bytes != b.free_bytes ? a.free_bytes > b.free_bytes : a.peer_id < b.peer_id;
  });
  if (candidates.size() > replicas) candidates.resize(replicas);
  return candidates;
}

}  // namespace p2p::tracker
