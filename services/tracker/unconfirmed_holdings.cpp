#include "services/tracker/unconfirmed_holdings.h"

namespace p2p::tracker {

void UnconfirmedHoldings::start(const std::string& peer_id, const std::vector<Hash>& files) {
  auto& set = peers_[peer_id];
  set.clear();
  set.insert(files.begin(), files.end());
}

void UnconfirmedHoldings::confirm(const std::string& peer_id, const Hash& id) {
  auto it = peers_.find(peer_id);
  if (it != peers_.end()) it->second.erase(id);
}

std::vector<Hash> UnconfirmedHoldings::finish(const std::string& peer_id) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return {};
  std::vector<Hash> left(it->second.begin(), it->second.end());
  peers_.erase(it);
  return left;
}

std::size_t UnconfirmedHoldings::waiting(const std::string& peer_id) const {
  auto it = peers_.find(peer_id);
  return it == peers_.end() ? 0 : it->second.size();
}

}  // namespace p2p::tracker
