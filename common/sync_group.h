// SyncGroup: one flush shared by every thread that asks for one at once
// (group commit, as in LevelDB's write batching and the journals of file
// systems). sync() returns after a whole run of `flush` that began after the
// call, so the flush covers every write the caller made before it; callers
// arriving while a flush runs wait for it and then share the next one.
//
// Thread affinity: any thread. Lifetime: `flush` lives as long as the group.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

#include "common/status.h"

namespace p2p {

class SyncGroup {
 public:
  // `flush` runs on the thread of one of the callers, never two at once.
  explicit SyncGroup(std::function<Status()> flush) : flush_(std::move(flush)) {}
  SyncGroup(const SyncGroup&) = delete;
  SyncGroup& operator=(const SyncGroup&) = delete;

  // The Status of a flush that began after this call (the latest done, when
  // several did).
  Status sync();
  // Runs of `flush` finished so far.
  std::uint64_t flushes() const;
  // Callers waiting on another caller's run now.
  std::size_t waiting() const;

 private:
  const std::function<Status()> flush_;
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::uint64_t started_ = 0;  // guarded by mu_: runs begun
  std::uint64_t done_ = 0;     // guarded by mu_: the latest run finished
  bool running_ = false;       // guarded by mu_
  std::size_t waiting_ = 0;    // guarded by mu_
  Status last_;                // guarded by mu_: the Status of run `done_`
};

}  // namespace p2p
