#include "client/write_behind.h"

namespace p2p::client {

WriteBehind::WriteBehind(int fd, bool direct, std::string path, std::size_t depth)
    : fd_(fd), direct_(direct), path_(std::move(path)), buffers_(depth == 0 ? 1 : depth) {
  for (std::size_t i = 0; i < buffers_.size(); ++i) free_.push_back(i);
  writer_ = std::thread([this] { run(); });
}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  writer_.join();
}

Status WriteBehind::write(const void* data, std::size_t size, std::uint64_t offset) {
  std::size_t slot;
  {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return !free_.empty() || !error_.ok(); });
    if (!error_.ok()) return error_;
    slot = free_.back();
    free_.pop_back();
  }
  // The slot is this thread's until queued: the copy runs outside the lock.
  Status s = buffers_[slot].assign(data, size);
  {
    std::lock_guard lock(mu_);
    if (!s.ok()) {
      free_.push_back(slot);
      return s;
    }
    queue_.push_back(Job{slot, offset});
  }
  changed_.notify_all();
  return Status::Ok();
}

Status WriteBehind::flush() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return (queue_.empty() && writing_ == 0) || !error_.ok(); });
  return error_;
}

void WriteBehind::run() {
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return !queue_.empty() || stop_; });
    if (queue_.empty()) return;  // stopping with nothing left to write
    Job job = queue_.front();
    queue_.pop_front();
    ++writing_;
    const bool failed = !error_.ok();  // after a failure, writes are dropped
    lock.unlock();
    Status s = failed ? Status::Ok() : buffers_[job.slot].write_at(fd_, direct_, job.offset, path_);
    lock.lock();
    --writing_;
    if (!s.ok() && error_.ok()) error_ = s;
    free_.push_back(job.slot);
    changed_.notify_all();
  }
}

}  // namespace p2p::client
