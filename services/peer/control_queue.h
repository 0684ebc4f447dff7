// ControlQueue: the messages a storage service owes the tracker that must not
// be lost to a full link (docs/protocol.md 5.5): REMOVED, the answer to a
// DELETE, and DRAIN, the start of a leave.
//
// Why: the link's send queue is full whenever the tracker reads slower than
// the peer announces (AnnounceQueue keeps it full on purpose). A REMOVED
// dropped then left the tracker counting a deleted replica as a holder, so it
// could trim another one and lose the file; a DRAIN dropped then left a
// SIGTERM'd peer waiting for a RELEASE that could not come. Here they wait
// until the link has room, and go ahead of announcement batches.
//
// - REMOVED: file ids in arrival order, sent in batches of at most
//   kMaxRemovedBatch ids a message. Bounded by `max_removals` ids
//   (kMaxPendingRemovals by default): the owner asks has_room() before it
//   carries out a DELETE, and leaves the file in place when there is none (no
//   answer is then owed; the tracker's delete times out and it stops counting
//   this holder, the safe direction). Kept over a reconnect: REMOVED of a file
//   is right on any connection (the tracker drops the holder, or it was not one).
// - DRAIN: one flag, so at most one message. It goes only when
//   `drain_allowed` (the owner's announcements are all sent: a tracker told
//   DRAIN before it has heard of every file here could release this peer
//   while it holds the only copy of one). A draining peer owes it on every
//   connection, so a DRAIN owed on the last one simply waits for the next
//   join's announcement.
//
// Memory: 32 bytes a pending id, at most max_removals of them.
// Thread affinity: one thread (the storage service's). Not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>

#include <zmq.hpp>

#include "common/hash.h"
#include "common/protocol.h"
#include "common/status.h"

namespace p2p::peer {

// Pending REMOVED ids at most: 8 MiB of ids, so the trim of a rejoin's whole
// surplus (one DELETE per file, sent while the rejoin's announcement may still
// fill the link) fits for stores of up to 262,144 files, and a tracker that
// sends DELETEs without end cannot grow the peer without bound.
inline constexpr std::size_t kMaxPendingRemovals = 262'144;
// File ids in one REMOVED: like ANNOUNCE's 256 manifests, one message stays
// small (~9 KiB) and is one short piece of work for the tracker.
inline constexpr std::size_t kMaxRemovedBatch = 256;

class ControlQueue {
 public:
  // Sends one message without blocking; kUnavailable means the link's queue
  // is full (try again when it has room), any other error that the message
  // cannot be sent at all.
  using Sender = std::function<Status(proto::Command, zmq::message_t)>;

  // REQUIRES: max_removals >= 1.
  explicit ControlQueue(std::size_t max_removals = kMaxPendingRemovals) : max_removals_(max_removals) {}

  // Whether one more REMOVED id fits.
  bool has_room() const { return removals_.size() < max_removals_; }
  // Owes REMOVED{id}. REQUIRES: has_room().
  void add_removed(const Hash& id) { removals_.push_back(id); }
  void owe_drain() { drain_owed_ = true; }

  bool drain_owed() const { return drain_owed_; }
  std::size_t removals() const { return removals_.size(); }
  // Nothing to send (a DRAIN owed counts, whether it is allowed yet or not).
  bool empty() const { return removals_.empty() && !drain_owed_; }
  // Something send() would send now.
  bool ready(bool drain_allowed) const { return !removals_.empty() || (drain_owed_ && drain_allowed); }

  struct Sent {
    std::size_t removed_messages = 0;  // REMOVED messages the link took
    std::size_t removed_ids = 0;       // ids in them
    std::size_t dropped_ids = 0;       // ids in REMOVED messages that could not be sent at all
    bool drain = false;                // DRAIN taken by the link
    bool drain_dropped = false;        // DRAIN could not be sent at all
    bool full = false;                 // stopped at a full link queue: again when it has room
    Status error;                      // why the last dropped message could not be sent
  };
  // Sends REMOVED batches, oldest ids first, then DRAIN if owed and
  // `drain_allowed`, until everything is sent or `send` says kUnavailable
  // (what is left stays queued). A message `send` refuses with another error
  // is dropped: sending it again would fail the same way.
  Sent send(const Sender& send, bool drain_allowed);

 private:
  std::size_t max_removals_;
  std::deque<Hash> removals_;
  bool drain_owed_ = false;
};

}  // namespace p2p::peer
