// UnconfirmedHoldings: the files a reconnected storage service was holding
// when its old connection was replaced, until its announcement says which
// it still holds (docs/protocol.md 5.1).
//
// Why: a peer process that lost the tracker for a while (the tracker paused
// for longer than the peer's liveness window, or the network dropped) sends
// READY again on a new connection. Forgetting its holdings, as for a
// restart, would leave its files without it, or unavailable, until it had
// re-announced them all (~30 s for 1,000,000 files). So they stay, and its
// ANNOUNCEs confirm them; once the announcement is complete, the files it
// did not announce are the ones it no longer holds (a DELETE answered on the
// old connection, say).
//
// Memory: one hash per file of each reconnected peer, until that peer's
// announcement completes, it dies, leaves or restarts.
// Thread affinity: none of its own; the broker thread owns it.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/hash.h"

namespace p2p::tracker {

class UnconfirmedHoldings {
 public:
  // `peer_id` reconnected holding `files`; replaces what it had unconfirmed
  // (a second reconnect before the first announcement completed).
  void start(const std::string& peer_id, const std::vector<Hash>& files);
  // The peer announced `id`. No-op when it is not unconfirmed.
  void confirm(const std::string& peer_id, const Hash& id);
  // The peer's announcement is complete: returns the files it did not
  // confirm (empty when none was waiting) and forgets the peer.
  std::vector<Hash> finish(const std::string& peer_id);
  // The peer's holdings are gone anyway (death, leave, restart).
  void forget(const std::string& peer_id) { peers_.erase(peer_id); }

  std::size_t waiting(const std::string& peer_id) const;

 private:
  std::unordered_map<std::string, std::unordered_set<Hash, HashHasher>> peers_;
};

}  // namespace p2p::tracker
