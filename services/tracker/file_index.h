// FileIndex: what the network stores. File id -> manifest and holders, and
// name -> file id (docs/protocol.md 5.1, 5.2).
//
// Holders are peer ids. The broker adds only live peers, and takes a peer off
// the moment it dies, leaves or restarts: at once (remove_peer), or in steps
// (start_departure, remove_departed) so that a peer of a million files does
// not stop the tracker for seconds. While a departure is in progress
// (departing()), the files it has not reached yet still list the departed
// peer, and counts() and short_of_holders() still count it: readers check a
// holder is live, and nothing plans from the index. Otherwise holder counts
// are live counts. A file whose holders all went stays indexed (unavailable)
// while a name points at it; a file no name points at any more (replaced by
// PUBLISH --force) is dropped when its last holder goes.
//
// A holder lost to death, leave or restart is a *loss*: the file records when
// and how many holders it had before (the repair grace of
// docs/replication.md). A holder dropped by REMOVED (a trim, or the peer
// deleted it) is no loss: nothing may come back, so nothing is waited for.
//
// Manifests handed in must have passed Manifest::validate().
// Thread affinity: none of its own; the broker thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/hash.h"
#include "common/manifest.h"
#include "common/sockets.h"
#include "common/status.h"
#include "services/tracker/holder_set.h"
#include "services/tracker/name_index.h"
#include "services/tracker/name_pattern.h"

namespace p2p::tracker {

struct FileRecord {
  Hash id;
  Manifest manifest;  // replicas as published; 0 means the tracker default
  HolderSet holders;  // live peers holding every chunk
  // The latest loss of a holder (death, leave, restart); {} = never.
  Clock::time_point lost_at{};
  // Holders before the losses not yet made up: while the file has fewer,
  // and the latest loss is recent, its repair waits (a holder may return).
  std::size_t holders_before_loss = 0;
  // When the index first saw this file id (stamped by the index itself): a
  // file's write pipeline announces it a moment before the client publishes.
  Clock::time_point first_seen{};

  // Lost a holder after `cutoff` (now - repair grace) and has not got back
  // the holders it had before: its repair waits, a holder may return. The
  // one rule for the index's short files and the planner (in_repair_grace).
  bool waiting_since_loss(Clock::time_point cutoff) const {
    return lost_at != Clock::time_point{} && lost_at > cutoff && holders.size() < holders_before_loss;
  }
};

struct IndexCounts {
  std::uint32_t files = 0;
  std::uint64_t bytes = 0;             // logical size of all files
  std::uint64_t stored_bytes = 0;      // size x holders
  std::uint32_t unavailable = 0;       // no holder
  // Under-replication depends on peers (draining, live count): see
  // file_health() in replication_planner.h.
};

struct HoldingOutcome {
  Hash id;
  bool new_file = false;    // first time this file id was seen
  bool name_bound = false;  // its name now points at it (it was free)
};

class FileIndex {
 public:
  // `default_replicas`: the wanted k of a file whose manifest says 0.
  explicit FileIndex(std::uint32_t default_replicas) : default_replicas_(default_replicas) {}
  // Not copyable: its files' holders point into its own peer_ids_.
  FileIndex(const FileIndex&) = delete;
  FileIndex& operator=(const FileIndex&) = delete;

  // ANNOUNCE: `peer_id` holds the file. Indexes it if new and binds its name
  // when the name is free. An existing file keeps its published replicas.
  HoldingOutcome add_holding(const Manifest& manifest, const std::string& peer_id);
  // add_holding of each manifest in turn (an ANNOUNCE batch), with the
  // peer's own lookups made once. Outcomes in the order of `manifests`.
  std::vector<HoldingOutcome> add_holdings(const std::vector<const Manifest*>& manifests, const std::string& peer_id);

  // PUBLISH: binds manifest.name to the manifest's file id, stores the
  // manifest (its replicas replace the old value) and adds `holders`.
  // kNameExists when the name is bound to another file id and !force.
  // The broker passes at least one live holder (it answers a PUBLISH with
  // none `unavailable`): a named file is never dropped, so one published
  // without a holder would stay for good.
  Result<Hash> publish(const Manifest& manifest, const std::vector<std::string>& holders, bool force);

  // The peer holds nothing any more (died, left, restarted) as of `now`:
  // a loss for each of its files. Returns how many files it held. All at
  // once, after the departures in progress.
  std::size_t remove_peer(const std::string& peer_id, Clock::time_point now);
  // As remove_peer, in steps: held_by() and files_held_by() no longer name
  // the peer's files, but each loses the peer as a holder (a loss as of
  // `now`) only when remove_departed() reaches it. Returns how many files it
  // held. Adding the peer as a holder again (add_holding, publish) first
  // finishes every departure in progress: a peer back before its departure
  // is done must not lose what it announces to it.
  std::size_t start_departure(const std::string& peer_id, Clock::time_point now);
  // One step of the departures in progress, oldest first (so losses are
  // kept in the order they happened): `max_files` units of work, a unit being
  // a file moved out of the peer's set or a file that loses the peer.
  void remove_departed(std::size_t max_files);
  // Files that still list a peer that departed (0: the holders are live).
  std::uint64_t departed_holdings() const { return departed_holdings_; }
  bool departing() const { return departed_holdings_ != 0; }
  // REMOVED: the peer dropped this one file (no loss). False when it was
  // not a holder.
  bool remove_holding(const Hash& id, const std::string& peer_id);

  const FileRecord* find(const Hash& id) const;
  const FileRecord* find_name(std::string_view name) const;
  // `query` of 64 hex digits is a file id, anything else a name.
  const FileRecord* lookup(std::string_view query) const;

  // Named files whose name matches, sorted by name, at most `limit`.
  std::vector<const FileRecord*> search(const NamePattern& pattern, std::size_t limit) const;

  std::uint32_t wanted_replicas(const FileRecord& file) const;
  std::size_t files_held_by(const std::string& peer_id) const;
  std::vector<const FileRecord*> held_by(const std::string& peer_id) const;
  // Every indexed file, in no particular order.
  std::vector<const FileRecord*> all_files() const;
  // Kept up to date by every mutator: O(1), no pass over the files.
  IndexCounts counts() const { return counts_; }
  // Files with fewer holders than min(k, `eligible`), counting every holder
  // as safe (the caller corrects for draining holders, see file_health()).
  // O(distinct (k, holder count) pairs), no pass over the files.
  std::uint32_t short_of_holders(std::size_t eligible) const;

  // The files a replication plan has to look at, besides those of draining
  // peers (docs/replication.md): files with holders but fewer than
  // min(k, `eligible`), and files with more than k. Every other file of a
  // non-draining peer needs nothing. Kept by every mutator, like counts(), so
  // a plan costs the files that need work, not the index.
  //
  // Short files, fewest holders first, then by file id, until `visit`
  // returns false; without those in their repair grace
  // (FileRecord::waiting_since_loss(loss_cutoff)). A wave of losses puts
  // every short file there, and skipping them one by one cost 0.4-0.7 us
  // each; kept apart by time of loss, they cost nothing until their grace
  // ends, then ~0.2 us each to move back, once. `visit` must not change the index.
  // Cutoffs should not go back: a file skipped for one cutoff is visited for
  // every later one, but once visited it is visited for earlier ones too.
  void visit_short(std::size_t eligible, Clock::time_point loss_cutoff,
                   const std::function<bool(const FileRecord&)>& visit) const;
  // Whether visit_short(eligible, loss_cutoff, ...) skips a file.
  bool short_in_repair_grace(std::size_t eligible, Clock::time_point loss_cutoff) const;
  // Stops keeping the short files in order (short_, losing_) until
  // keep_short_files(), which sorts them anew in one pass. For the tracker's
  // safe mode and its waits for a big announcement, when nothing plans: while
  // peers announce every file is short for a while, and keeping them in order
  // was half the tracker's time (1,000,000 files a peer: ~0.3 s a pass to
  // sort them afterwards).
  // Meanwhile visit_short and short_in_repair_grace see no file; counts(),
  // short_of_holders() and the surplus files are kept as ever.
  void pause_short_files();
  void keep_short_files();
  bool short_files_kept() const { return short_files_kept_; }
  // Files with more holders than k, by file id.
  void visit_surplus(const std::function<void(const FileRecord&)>& visit) const;

  // Moves on every change of files, holders or wanted replicas: a
  // replication plan made at one version holds until the next.
  std::uint64_t version() const { return version_; }

 private:
  FileRecord& insert(const Manifest& manifest, const Hash& id, bool* is_new);
  // counts_, by_shape_, short_ and surplus_ without / with the file: every
  // change of a file's holders, size, k or loss (lost_at,
  // holders_before_loss) is wrapped in uncount(file) ... count(file).
  void count(const FileRecord& file);
  void uncount(const FileRecord& file);
  // Moves the files of losing_ lost at or before `loss_cutoff` to short_.
  void expire_losses(Clock::time_point loss_cutoff) const;
  // Called before a file is looked up to add `peer_id` to it: when the peer
  // is back before its departure is done, finishes every departure (rare: a
  // peer restarted within seconds), so none takes off what it holds now.
  void finish_departure_of(const std::string& peer_id);
  // `peer` is interned; `held` is by_peer_[*peer].
  void add_holder(FileRecord& file, const std::string* peer, std::unordered_set<Hash, HashHasher>& held);
  // The one copy of `peer_id` that every file's HolderSet points to.
  const std::string* intern(const std::string& peer_id);
  bool is_named(const FileRecord& file) const;
  void drop_if_orphan(const Hash& id);
  // One file loses a departed peer (a loss at `at`); nothing when the peer is
  // no holder of it any more (a REMOVED came first).
  void remove_departed_holder(const Hash& id, const std::string& peer_id, Clock::time_point at);

  std::uint32_t default_replicas_;
  // Every peer id ever a holder, once (HolderSet points into it; nodes do
  // not move). Grows with the peers a tracker has known: a few hundred bytes
  // each, never dropped, since a peer keeps its id across restarts.
  std::unordered_set<std::string> peer_ids_;
  std::unordered_map<Hash, FileRecord, HashHasher> files_;
  NameIndex names_;  // ordered: SEARCH answers sorted by name
  // Peer id -> the files it holds. Hashed, not ordered: every announced file
  // is one insert here, and an ordered set of a million ids cost ~20 cache
  // misses an insert (a quarter of the tracker's CPU while peers re-announce).
  std::unordered_map<std::string, std::unordered_set<Hash, HashHasher>> by_peer_;
  // A peer whose files are being taken off in steps (start_departure): its
  // ids are moved out of `held` into `ids` in sorted runs, then taken off in
  // order, merging the runs.
  struct Run {
    std::size_t next, end;  // the ids of a run not taken off yet: ids[next, end)
  };
  // For a min-heap of runs by their next id.
  struct LaterRun {
    const std::vector<Hash>* ids;
    bool operator()(const Run& a, const Run& b) const { return (*ids)[b.next] < (*ids)[a.next]; }
  };
  struct Departure {
    const std::string* peer_id;                 // interned
    Clock::time_point at;                       // the loss's time
    std::unordered_set<Hash, HashHasher> held;  // its files not moved to `ids` yet
    std::vector<Hash> ids;                      // in sorted runs, one a step
    std::vector<Run> runs;                      // a heap (LaterRun) once `held` is empty
  };
  std::deque<Departure> departures_;  // oldest first
  std::uint64_t departed_holdings_ = 0;  // ids not yet taken off, every departure
  std::uint64_t version_ = 0;
  IndexCounts counts_;
  // Files by (wanted k, holder count): a handful of entries however many files.
  std::map<std::pair<std::uint32_t, std::size_t>, std::uint32_t> by_shape_;
  // Holder count -> files with that many holders, more than 0 and fewer than
  // k. Ordered sets so a plan visits them most endangered first and can stop
  // when its copy targets are used up (~80 bytes a file while it is short).
  // A short file; its lost_at orders losing_ only. Both kinds of set hold
  // the same node type, so a file whose grace ends moves without a malloc.
  struct ShortFile {
    Hash id;
    Clock::time_point lost_at;
  };
  struct ById {
    bool operator()(const ShortFile& a, const ShortFile& b) const { return a.id < b.id; }
  };
  struct ByLoss {
    bool operator()(const ShortFile& a, const ShortFile& b) const {
      return a.lost_at != b.lost_at ? a.lost_at < b.lost_at : a.id < b.id;
    }
  };
  // Files are in short_ or in losing_, never both.
  mutable std::map<std::size_t, std::set<ShortFile, ById>> short_;
  // Holder count -> the short files in their repair grace as of loss_cutoff_
  // (waiting_since_loss(loss_cutoff_)), by (lost_at, file id). Mutable
  // because a visit moves those whose grace ended to short_ (each file once
  // per loss).
  mutable std::map<std::size_t, std::set<ShortFile, ByLoss>> losing_;
  mutable Clock::time_point loss_cutoff_ = Clock::time_point::min();  // the latest cutoff asked for
  bool short_files_kept_ = true;  // short_ and losing_ are up to date (pause_short_files)
  std::set<Hash> surplus_;  // files with more holders than k
};

}  // namespace p2p::tracker
