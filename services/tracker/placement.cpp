#include "services/tracker/placement.h"

#include <algorithm>
#include <functional>

namespace p2p::tracker {

namespace {

// Rendezvous (highest random weight) score of a peer for a name. std::hash
// is enough: answers need to repeat within one tracker, not across builds.
std::uint64_t score(std::string_view name, const std::string& peer_id) {
  std::string key;
  key.reserve(name.size() + 1 + peer_id.size());
  key.append(name).push_back('\0');
  key.append(peer_id);
  return std::hash<std::string>{}(key);
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
  // Each candidate's rank, computed once: roomy ones first by score, the
  // others by free bytes, ties by peer id.
  struct Ranked {
    bool roomy;
    std::uint64_t order;
    PlacementCandidate* candidate;
  };
  std::vector<Ranked> ranked;
  ranked.reserve(candidates.size());
  for (auto& c : candidates) {
    const bool is_roomy = c.free_bytes >= roomy;
    ranked.push_back({is_roomy, is_roomy ? score(name, c.peer_id) : c.free_bytes, &c});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.roomy != b.roomy) return a.roomy;
    if (a.order != b.order) return a.order > b.order;
    return a.candidate->peer_id < b.candidate->peer_id;
  });
  std::vector<PlacementCandidate> chosen;
  for (std::size_t i = 0; i < ranked.size() && i < replicas; ++i) chosen.push_back(std::move(*ranked[i].candidate));
  return chosen;
}

}  // namespace p2p::tracker
