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
// Memory: a pass holds the hash of every chunk stored when it began (32 bytes
// each: 3.2 MiB for 100 GiB of 1 MiB chunks) and one chunk at a time.
// Thread affinity: start(), stop() and join() from the owning thread;
// totals() from any thread. The scrubber runs one thread of its own and has
// no sockets. Lifetime: `store` outlives the scrubber.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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

  struct Totals {
    std::uint64_t passes = 0;   // finished
    std::uint64_t chunks = 0;   // checked
    std::uint64_t bytes = 0;    // read and hashed
    std::uint64_t dropped = 0;  // corrupt or gone, forgotten
  };
  Totals totals() const;

 private:
  void run();
  // One pass over every chunk stored when it starts; false when stopped.
  bool pass();
  // Sleeps `d` unless stopped first; false when stopped.
  bool sleep_for(std::chrono::nanoseconds d);

  ChunkStore& store_;
  const ScrubOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<std::uint64_t> passes_{0}, chunks_{0}, bytes_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace p2p::peer
