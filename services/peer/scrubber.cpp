#include "services/peer/scrubber.h"

#include <algorithm>
#include <vector>

#include "common/log.h"

namespace p2p::peer {

Scrubber::Scrubber(ChunkStore& store, ScrubOptions options) : store_(store), options_(options) {}

Scrubber::~Scrubber() {
  stop();
  join();
}

void Scrubber::start() {
  if (options_.bytes_per_second == 0) return;
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  thread_ = std::thread([this] { run(); });
}

void Scrubber::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
}

void Scrubber::join() {
  if (thread_.joinable()) thread_.join();
}

bool Scrubber::suspect(const Hash& hash) {
  {
    std::lock_guard lock(mu_);
    if (!running_ || stop_) return false;
    if (std::find(suspects_.begin(), suspects_.end(), hash) != suspects_.end()) return true;
    if (suspects_.size() >= kMaxSuspects) return false;
    suspects_.push_back(hash);
  }
  wake_.notify_all();
  return true;
}

Scrubber::Totals Scrubber::totals() const {
  return Totals{passes_.load(), chunks_.load(), bytes_.load(), dropped_.load(), suspects_checked_.load()};
}

bool Scrubber::sleep_until(std::chrono::steady_clock::time_point deadline, bool for_suspects) {
  std::unique_lock lock(mu_);
  wake_.wait_until(lock, deadline, [&] { return stop_ || (for_suspects && !suspects_.empty()); });
  return !stop_;
}

void Scrubber::run() {
  try {
    auto next = std::chrono::steady_clock::now() + options_.interval;
    while (sleep_until(next, true)) {
      if (std::chrono::steady_clock::now() < next) {  // woken by a suspect
        if (!check_a_suspect()) break;
        continue;
      }
      // The interval runs from the start of a pass: after a pass slower than
      // it, the next starts at once.
      next = std::chrono::steady_clock::now() + options_.interval;
      if (!pass()) break;
    }
  } catch (const std::exception& e) {
    P2P_ERROR("scrub stopped: %s", e.what());
  }
}

std::chrono::nanoseconds Scrubber::check(const Hash& hash, ChunkStore::ScrubRead how, std::uint64_t* bytes,
                                         std::uint64_t* dropped, std::uint64_t* failed) {
  Result<ChunkStore::ScrubOutcome> outcome = store_.scrub_chunk(hash, how);
  std::size_t read = 0;
  if (!outcome.ok()) {
    ++*failed;
    P2P_WARN("scrub: chunk %s not checked: %s", hash.hex().c_str(), outcome.status().to_string().c_str());
  } else {
    read = outcome->bytes;
    if (outcome->dropped) {
      ++*dropped;
      ++dropped_;
    }
  }
  *bytes += read;
  ++chunks_;
  bytes_ += read;
  // `read` bytes at bytes_per_second.
  return std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(read) * 1e9 /
                                                            static_cast<double>(options_.bytes_per_second)));
}

bool Scrubber::pause(std::chrono::nanoseconds d) { return sleep_until(std::chrono::steady_clock::now() + d, false); }

bool Scrubber::check_a_suspect() {
  Hash hash;
  {
    std::lock_guard lock(mu_);
    if (suspects_.empty()) return true;
    hash = suspects_.front();
    suspects_.pop_front();
  }
  std::uint64_t bytes = 0, dropped = 0, failed = 0;
  const std::chrono::nanoseconds pacing =
      check(hash, ChunkStore::ScrubRead::kCachedPagesDropped, &bytes, &dropped, &failed);
  ++suspects_checked_;
  if (failed == 0)
    P2P_INFO("scrub: suspect chunk %s (reported sent wrong): %s", hash.hex().c_str(),
             dropped != 0  ? "does not match its hash on disk; dropped"
             : bytes == 0 ? "no longer stored"
                          : "matches its hash on disk; its cached pages were dropped");
  return pause(pacing);
}

bool Scrubber::pass() {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<Hash> hashes = store_.chunk_hashes();
  std::uint64_t bytes = 0, dropped = 0, failed = 0;
  for (const Hash& hash : hashes) {
    // One suspect at most between two chunks: reports go first, but cannot
    // hold a pass back.
    if (!check_a_suspect()) return false;
    if (!pause(check(hash, ChunkStore::ScrubRead::kFromDisk, &bytes, &dropped, &failed))) return false;
  }
  ++passes_;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  P2P_INFO("scrub: pass done: %zu chunks, %llu bytes checked, %llu dropped, %llu unreadable, in %.1f s", hashes.size(),
           static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(dropped),
           static_cast<unsigned long long>(failed), seconds);
  return true;
}

}  // namespace p2p::peer
