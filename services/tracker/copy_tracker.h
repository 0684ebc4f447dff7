// CopyTracker: the replication orders the tracker has in flight
// (docs/replication.md "Repair", "Rejoin and trim").
//
// - copies: REPLICATE sent to a target, REPLICATED not back yet. Each has a
//   deadline (--copy-timeout-ms); one that passes it is forgotten, so the
//   planner orders the copy again on a later tick.
// - deletes: DELETE sent to a holder, REMOVED not back yet. At most one per
//   file (the planner's rule); same deadline, so a lost REMOVED cannot block
//   trimming a file for ever. The broker drops the holder of an expired
//   delete from the index: it may have deleted its copy.
// - failures: a copy that failed or timed out on a target makes the planner
//   prefer other targets for that file for kFailedTargetMemory.
//
// Time is passed in by the caller. Sizes are small (at most
// max-copies-per-peer x peers copies), so flat vectors and linear scans.
// Thread affinity: none of its own; the broker thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/sockets.h"

namespace p2p::tracker {

// How long a failed (file, target) pair is tried last: long enough for a few
// heartbeat ticks to pick someone else, short enough that a transient failure
// (a full queue, a restart) is soon forgotten. A preference, never a ban: a
// network with only that target still retries it on the next tick.
inline constexpr std::chrono::seconds kFailedTargetMemory{60};

struct CopyInFlight {
  Hash file_id;
  std::string target;       // peer id receiving the copy
  std::uint64_t bytes = 0;  // file size: space the target will use
  Clock::time_point deadline;
};

struct DeleteInFlight {
  Hash file_id;
  std::string holder;  // peer id told to drop its replica
  Clock::time_point deadline;
};

struct ExpiredOrders {
  std::vector<CopyInFlight> copies;
  std::vector<DeleteInFlight> deletes;
};

class CopyTracker {
 public:
  // `timeout`: --copy-timeout-ms, for copies and deletes alike.
  explicit CopyTracker(Clock::duration timeout) : timeout_(timeout) {}

  // REQUIRES: !copying(file_id, target).
  void start_copy(const Hash& file_id, const std::string& target, std::uint64_t bytes, Clock::time_point now);
  // The copy succeeded (REPLICATED code 0, or the target announced the
  // file). False when it was not in flight.
  bool finish_copy(const Hash& file_id, const std::string& target);
  // The copy failed: forgotten and remembered as a failure on that target.
  // False when it was not in flight.
  bool fail_copy(const Hash& file_id, const std::string& target, Clock::time_point now);

  bool copying(const Hash& file_id, const std::string& target) const;
  std::size_t copies_of(const Hash& file_id) const;
  std::size_t copies_to(const std::string& target) const;
  std::uint64_t bytes_to(const std::string& target) const;  // space promised to copies in flight
  std::size_t copies() const { return copies_.size(); }
  const std::vector<CopyInFlight>& all_copies() const { return copies_; }
  bool failed_recently(const Hash& file_id, const std::string& target, Clock::time_point now) const;

  // REQUIRES: !delete_pending(file_id).
  void start_delete(const Hash& file_id, const std::string& holder, Clock::time_point now);
  // REMOVED arrived. False when no such delete was pending.
  bool finish_delete(const Hash& file_id, const std::string& holder);
  bool delete_pending(const Hash& file_id) const;
  const std::vector<DeleteInFlight>& all_deletes() const { return deletes_; }

  // The peer died or restarted: its copies and deletes will not be answered.
  // Returns how many orders were dropped.
  std::size_t forget_peer(const std::string& peer_id);

  // Removes and returns the orders past their deadline at `now`; timed-out
  // copies count as failures. Also drops failures older than their memory.
  ExpiredOrders expire(Clock::time_point now);

  // Moves whenever a copy or delete starts, ends or expires (not when a
  // failure is forgotten: failures only order targets, see failed_recently).
  std::uint64_t version() const { return version_; }
  // Copies that succeeded (finish_copy true) since construction.
  std::uint64_t copies_done() const { return copies_done_; }

 private:
  bool drop_copy(const Hash& file_id, const std::string& target);  // no longer in flight

  struct Failure {
    Hash file_id;
    std::string target;
    Clock::time_point until;
  };

  Clock::duration timeout_;
  std::vector<CopyInFlight> copies_;
  std::vector<DeleteInFlight> deletes_;
  std::vector<Failure> failures_;
  std::uint64_t version_ = 0;
  std::uint64_t copies_done_ = 0;
};

}  // namespace p2p::tracker
