// ReplicationPlanner: what the tracker should copy and trim now
// (docs/replication.md, carried out by REPLICATE and DELETE, protocol.md 5.5).
//
// Pure logic over the broker's state: the peer registry, the file index and
// the orders in flight. Time is passed in; nothing here sends or logs.
//
// Terms (docs/replication.md): k = the manifest's replicas or the tracker
// default; live holders = holders in the index (all live); safe holders =
// live holders that are not draining; wanted = min(k, live non-draining
// peers); under-replicated = safe < wanted; unavailable = no live holder.
//
// Thread affinity: none; called on the broker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/protocol.h"
#include "common/sockets.h"
#include "services/tracker/copy_tracker.h"
#include "services/tracker/file_index.h"
#include "services/tracker/peer_registry.h"

namespace p2p::tracker {

struct ReplicationPolicy {
  // After a holder's death, after a peer's join (before trimming), and after
  // the tracker's start (safe mode): how long to wait. >= 0.
  Clock::duration repair_grace{};
  // Copies one peer receives at once. >= 1.
  std::uint32_t max_copies_per_peer = 2;
  // Safe mode: no repairs, trims or releases before this time, while peers
  // re-announce. The broker sets it to its start + repair_grace, and ends it
  // sooner once its index is complete (docs/replication.md "Tracker restart").
  Clock::time_point safe_until{};
  // A file first seen less than this ago is still being written by its put
  // (the pipeline's peers announce it just before the client publishes the
  // others): it is not repaired yet, which saves copies the put is making
  // anyway. The broker uses min(one liveness window, repair grace); 0 turns the
  // check off.
  Clock::duration new_file_settle{};
};

struct FileHealth {
  std::uint32_t wanted = 0;  // min(k, live non-draining peers)
  std::size_t live = 0;      // live holders, draining ones included
  std::size_t safe = 0;      // live holders that are not draining

  bool under_replicated() const { return safe < wanted; }
  bool unavailable() const { return live == 0; }
};

// REPLICATE `file_id` onto `target`, pulling from `sources`.
struct CopyOrder {
  Hash file_id;
  std::string target;
  std::uint64_t bytes = 0;                  // the file's size
  std::vector<proto::HolderInfo> sources;   // every live holder, safe ones first
};

// DELETE `file_id` from `holder` (a trim).
struct DeleteOrder {
  Hash file_id;
  std::string holder;
};

struct ReplicationPlan {
  std::vector<CopyOrder> copies;
  std::vector<DeleteOrder> deletes;
  // Nothing to wait for: every file with a live holder has its wanted
  // holders (copies in flight counted) and no surplus. No order, no repair
  // grace and no trim grace is pending, so time alone cannot change the plan:
  // only a change of the registry, the index or the orders can (their
  // version()s). False in safe mode, and also while a short file in its
  // repair grace has copies in flight that make it whole (the plan does not
  // look closer at files in grace): the broker then plans each tick until
  // the grace is over.
  bool settled = false;
};

// `live_non_draining` is registry.live_non_draining(), passed in so a loop
// over many files counts the peers once.
FileHealth file_health(const FileRecord& file, std::uint32_t k, std::size_t live_non_draining,
                       const PeerRegistry& registry);

// True during the first repair grace after the tracker's start.
bool in_safe_mode(const ReplicationPolicy& policy, Clock::time_point now);

// A plan looks at the files that can need work (FileIndex::visit_short,
// visit_surplus, and the files of draining peers), ~1.5 us each, and stops
// at the short files once every copy slot is promised. That is still long
// in some cases (targets with slots they cannot use: every short file; the
// end of a repair wave's grace: moving its files back, 0.2 us each), and
// the broker answers nothing while it runs. So planning may take at most
// 1 / kMaxPlanShare of the broker's time: after a plan that took `took`, the
// next waits until `finished + (kMaxPlanShare - 1) x took`, and the broker
// keeps answering and heartbeating between plans.
inline constexpr int kMaxPlanShare = 4;
// REQUIRES: took >= 0 (two readings of the steady clock).
Clock::time_point next_plan_at(Clock::time_point finished, Clock::duration took);

// True while a file's repair waits: it is younger than new_file_settle, or it
// lost a holder less than a grace ago and has not got back to the holders it
// had before.
bool in_repair_grace(const FileRecord& file, const ReplicationPolicy& policy, Clock::time_point now);

// The orders to send now, the same as a look at every file would give. None
// in safe mode, nor while a departure is in progress (FileIndex::departing):
// a file it has not reached yet has no loss recorded, so its repair would not
// wait the grace a holder gets to come back. The steps take ~3 s at
// 1,000,000 files, less than the grace.
//
// - copies for every under-replicated file with a live holder and no repair
//   grace running, counting copies in flight as done; most endangered files
//   (fewest safe holders) first. Targets are live, non-draining peers with a
//   replication service that do not hold or receive the file, have room for
//   it beyond copies already promised to them, and receive fewer than
//   max_copies_per_peer copies; most free space first, targets that recently
//   failed this file last.
// - at most one delete per file whose safe holders exceed k, whose every
//   holder has been live for a grace, and which has no delete pending: to the
//   safe holder with the least free space, counting the bytes this plan's
//   earlier trims free on it.
ReplicationPlan plan_replication(const PeerRegistry& registry, const FileIndex& index, const CopyTracker& orders,
                                 const ReplicationPolicy& policy, Clock::time_point now);

// A draining peer may go: every file it holds has, without it, at least
// min(k, other live non-draining peers) safe holders. False for a peer that
// is not live and draining, during safe mode (the index may still miss
// holders that have not re-announced), while a departure is in progress
// (as plan_replication), and while a file it holds has a
// DELETE in flight to another holder: that holder is still counted, but its
// copy may be gone already (k=1, F on A and B, B trimmed: releasing A then
// would lose F). Costs the deletes in flight plus the peer's files.
bool releasable(const std::string& peer_id, const PeerRegistry& registry, const FileIndex& index,
                const CopyTracker& orders, const ReplicationPolicy& policy, Clock::time_point now);

}  // namespace p2p::tracker
