// AnnounceQueue: the files a storage service still has to announce on its
// current tracker connection, handed out in batches as the link takes them.
//
// After every (re)join all complete files are queued and a last batch marked
// complete is owed (docs/protocol.md 5.1); files completed later are queued
// as they come. A batch leaves the queue only once the link took it
// (pop()), so a tracker that reads slower than the peer announces (the
// link's send queue is full) delays announcements instead of losing them.
// Memory: 32 bytes a queued file; manifests are looked up in the store when
// their batch is made, so a file deleted meanwhile is skipped.
//
// Thread affinity: one thread (the storage service's). Not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "common/chunk_store.h"
#include "common/hash.h"
#include "common/protocol.h"

namespace p2p::peer {

class AnnounceQueue {
 public:
  struct Batch {
    proto::AnnounceBody body;
    std::size_t taken = 0;  // queued files this batch accounts for (sent or skipped)
  };

  // Forgets what was queued for the previous connection and queues `ids`,
  // then the complete marker.
  void restart(std::vector<Hash> ids);
  // Queues one more file (a file completed here), announced in order.
  void add(const Hash& id) { ids_.push_back(id); }
  // Nothing left to send, the complete marker included.
  bool empty() const { return ids_.empty() && !complete_owed_; }
  std::size_t queued() const { return ids_.size(); }

  // The next batch: the manifests of the first queued files still held in
  // full in `store`, at most limits::kMaxAnnounceBatch of them and about
  // kByteBudget bytes; `complete` is set when it takes the last queued file
  // and the marker is owed. REQUIRES: !empty().
  Batch next(const ChunkStore& store) const;
  // The link took `batch`: its files leave the queue.
  void pop(const Batch& batch);
  // Gives up the complete marker: a batch was lost, so the tracker must not
  // be told that it has heard of every file.
  void forgo_complete() { complete_owed_ = false; }

 private:
  std::deque<Hash> ids_;
  bool complete_owed_ = false;
};

}  // namespace p2p::peer
