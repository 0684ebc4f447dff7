#include "services/tracker/placement.h"

#include <algorithm>

namespace p2p::tracker {

namespace {

// Rendezvous (highest random weight) score of a peer for a name: FNV-1a over
// both, then splitmix64's finaliser so nearby inputs land far apart.
std::uint64_t score(std::string_view name, const std::string& peer_id) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix_in = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  };
  mix_in(name);
  mix_in(std::string_view("\0", 1));
  mix_in(peer_id);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

}  // namespace

Result<std::vector<PlacementCandidate>> choose_peers(std::vector<PlacementCandidate> candidates, std::uint64_t size,
                                                     std::uint32_t replicas, std::string_view name) {
  if (candidates.empty()) return Status{ErrorCode::kNoPeers, "no live peers"};
  const std::size_t live = candidates.size();
  std::erase_if(candidates, [size](const PlacementCandidate& c) { return c.free_bytes < size; });
  if (candidates.empty())
    return Status{ErrorCode::kNoSpace, "none of the " + std::to_string(live) + " live peers has " +
                                           std::to_string(size) + " bytes free"};
  std::uint64_t roomiest = 0;
  for (const auto& c : candidates) roomiest = std::max(roomiest, c.free_bytes);
  const std::uint64_t roomy = roomiest - roomiest / kBalancedShare;
  std::sort(candidates.begin(), candidates.end(), [&](const PlacementCandidate& a, const PlacementCandidate& b) {
    const bool a_roomy = a.free_bytes >= roomy, b_roomy = b.free_bytes >= roomy;
    if (a_roomy != b_roomy) return a_roomy;
    if (a_roomy) {
      const std::uint64_t sa = score(name, a.peer_id), sb = score(name, b.peer_id);
      if (sa != sb) return sa > sb;
    } else if (a.free_bytes != b.free_bytes) {
      return a.free_bytes > b.free_bytes;
    }
    return a.peer_id < b.peer_id;
  });
  if (candidates.size() > replicas) candidates.resize(replicas);
  return candidates;
}

}  // namespace p2p::tracker
