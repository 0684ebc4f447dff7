// WriteBehind: a get's chunk writes done on a thread of their own, so the
// thread that receives and hashes chunks never waits for the disk.
//
// Why: an O_DIRECT pwrite (common/direct_io.h) blocks until the device has
// the bytes, ~0.5 s per GiB here; done inline it was added to the ~0.65 s per
// GiB of SHA-256 on the one thread that also drives every holder's window.
//
// write() copies the bytes into one of `depth` reusable aligned buffers
// (waiting while all are queued: memory is bounded by depth x buffer size)
// and queues it; the writer thread writes them in order. The first error of
// any write is kept and returned by every later write() and by flush().
//
// Ownership: borrows `fd`, which must stay open until flush() returned or
// the WriteBehind is destroyed. Thread affinity: write() and flush() from one
// thread (the owner); the writer thread is internal and joined by the
// destructor.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/direct_io.h"
#include "common/status.h"

namespace p2p::client {

class WriteBehind {
 public:
  // Buffers in flight: two keep the disk busy while the next chunk is hashed;
  // four absorb a slow write without stalling the fetch.
  static constexpr std::size_t kDefaultDepth = 4;

  // `direct`: fd has O_DIRECT (offsets must then be direct_aligned).
  WriteBehind(int fd, bool direct, std::string path, std::size_t depth = kDefaultDepth);
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Queues a copy of [data, data + size) for writing at `offset`.
  Status write(const void* data, std::size_t size, std::uint64_t offset);
  // Waits until every queued write is done; the first error of any.
  Status flush();

 private:
  struct Job {
    std::size_t slot;
    std::uint64_t offset;
  };
  void run();

  const int fd_;
  const bool direct_;
  const std::string path_;
  std::vector<DirectBuffer> buffers_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::size_t> free_;  // guarded by mu_: slots ready for write()
  std::deque<Job> queue_;          // guarded by mu_: slots waiting for the writer
  std::size_t writing_ = 0;        // guarded by mu_: slots the writer holds
  Status error_;                   // guarded by mu_: the first failed write
  bool stop_ = false;              // guarded by mu_
  std::thread writer_;
};

}  // namespace p2p::client
