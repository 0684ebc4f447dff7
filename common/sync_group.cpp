#include "common/sync_group.h"

namespace p2p {

Status SyncGroup::sync() {
  std::unique_lock lock(mu_);
  // A run already going may have begun before this caller's writes.
  const std::uint64_t needed = started_ + 1;
  while (done_ < needed) {
    if (running_) {
      ++waiting_;
      done_cv_.wait(lock);
      --waiting_;
      continue;
    }
    running_ = true;
    const std::uint64_t run = ++started_;
    lock.unlock();
    Status s = [&]() -> Status {
      try {
        return flush_();
      } catch (const std::exception& e) {
        return {ErrorCode::kIo, e.what()};
      }
    }();
    lock.lock();
    running_ = false;
    done_ = run;
    last_ = std::move(s);
    done_cv_.notify_all();
  }
  return last_;
}

std::size_t SyncGroup::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

std::uint64_t SyncGroup::flushes() const {
  std::lock_guard lock(mu_);
  return done_;
}

}  // namespace p2p
