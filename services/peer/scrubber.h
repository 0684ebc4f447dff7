// Scrubber: re-reads every chunk a peer stores, in the background, and checks
// it against its name (HDFS's block scanner, Ceph's deep scrub), so a chunk
// corrupted or deleted on disk is found even when no get asks for it. A get
// that meets one only drops that holder for itself; without a scrub the
// tracker would count the bad replica as a good one until the peer restarts.
//
// What a pass drops (ChunkStore::scrub_chunk), the storage service reports to
// the tracker as REMOVED (ChunkStore::take_lost_file), and the tracker copies
// those files again from their other holders.
//
// A pass reads every chunk once, paced to `bytes_per_second`, so gets keep the
// disk. Passes start at most one `interval` apart; the first one an interval
// after start(), since the store's load() has just checked every chunk.
//
// A chunk someone got wrong bytes of (CHECK_CHUNK, docs/protocol.md 5.3) is
// a suspect: it is checked next, out of turn, from disk with its cached
// pages dropped, between two chunks of a pass or at once between passes.
// Suspect checks are paced like a pass's reads and alternate with them, so
// a flood of reports neither costs more disk than the scrub nor holds a pass
// back more than twice its time.
//
// Memory: a pass holds the hash of every chunk stored when it began (32 bytes
// each: 3.2 MiB for 100 GiB of 1 MiB chunks), up to kMaxSuspects hashes, and
// one chunk at a time.
// Thread affinity: start(), stop() and join() from the owning thread;
// suspect() and totals() from any thread. The scrubber runs one thread of its own and has
// no sockets. Lifetime: `store` outlives the scrubber.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "common/chunk_store.h"

namespace p2p::peer {

struct ScrubOptions {
  // Bytes read a second: 8 MiB/s is ~1% of this class of disk (dd: 530-720
  // MB/s, docs/performance.md), and re-reads 100 GiB in under 4 hours.
  // 0 turns the scrub off.
  std::uint64_t bytes_per_second = 8u << 20;
  // Between the starts of two passes: a daily re-read (HDFS's scanner takes
  // three weeks a pass; a p2p-share peer stores less).
  std::chrono::milliseconds interval{std::chrono::hours(24)};
};

// Suspects waiting for their check; beyond them a report is left to the next
// pass. A get reports at most one chunk per holder it drops, so 64 covers 64
// gets meeting bad bytes here within one check's time.
inline constexpr std::size_t kMaxSuspects = 64;

class Scrubber {
 public:
  Scrubber(ChunkStore& store, ScrubOptions options);
  ~Scrubber();  // stop() and join()
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Starts the thread; does nothing when bytes_per_second is 0.
  void start();
  // Asks the thread to exit; it does within one chunk's read. Returns at once.
  void stop();
  void join();

  // Queues `hash` for a check out of turn. False when it is not queued: the
  // scrub is off or stopped, or kMaxSuspects wait already. A hash already
  // waiting is queued once (true).
  bool suspect(const Hash& hash);

  struct Totals {
    std::uint64_t passes = 0;    // finished
    std::uint64_t chunks = 0;    // checked, suspects included
    std::uint64_t bytes = 0;     // read and hashed
    std::uint64_t dropped = 0;   // corrupt or gone, forgotten
    std::uint64_t suspects = 0;  // suspects checked
  };
  Totals totals() const;

 private:
  void run();
  // One pass over every chunk stored when it starts; false when stopped.
  bool pass();
  // Checks one chunk and counts it; returns how long to pause for its read
  // at the rate. `failed` counts a chunk that could not be read.
  std::chrono::nanoseconds check(const Hash& hash, ChunkStore::ScrubRead how, std::uint64_t* bytes,
                                 std::uint64_t* dropped, std::uint64_t* failed);
  // Waits `d` unless stopped first; false when stopped.
  bool pause(std::chrono::nanoseconds d);
  // Checks the oldest suspect, if any; false when stopped.
  bool check_a_suspect();
  // Sleeps until `deadline` unless stopped first (false) or, when
  // `for_suspects`, a suspect comes (true).
  bool sleep_until(std::chrono::steady_clock::time_point deadline, bool for_suspects);

  ChunkStore& store_;
  const ScrubOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;          // guarded by mu_
  bool running_ = false;       // guarded by mu_: start() ran and the scrub is on
  std::deque<Hash> suspects_;  // guarded by mu_: at most kMaxSuspects, each once
  std::atomic<std::uint64_t> passes_{0}, chunks_{0}, bytes_{0}, dropped_{0}, suspects_checked_{0};
  std::thread thread_;
};

}  // namespace p2p::peer
