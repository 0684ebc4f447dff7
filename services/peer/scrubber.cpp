#include "services/peer/scrubber.h"

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

Scrubber::Totals Scrubber::totals() const { return Totals{passes_.load(), chunks_.load(), bytes_.load(), dropped_.load()}; }

bool Scrubber::sleep_for(std::chrono::nanoseconds d) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stop_; });
}

void Scrubber::run() {
  try {
    auto next = std::chrono::steady_clock::now() + options_.interval;
    while (sleep_for(next - std::chrono::steady_clock::now())) {
      // The interval runs from the start of a pass: after a pass slower than
      // it, the next starts at once.
      next = std::chrono::steady_clock::now() + options_.interval;
      if (!pass()) break;
    }
  } catch (const std::exception& e) {
    P2P_ERROR("scrub stopped: %s", e.what());
  }
}

bool Scrubber::pass() {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<Hash> hashes = store_.chunk_hashes();
  std::uint64_t bytes = 0, dropped = 0, failed = 0;
  for (const Hash& hash : hashes) {
    Result<ChunkStore::ScrubOutcome> outcome = store_.scrub_chunk(hash);
    std::size_t read = 0;
    if (!outcome.ok()) {
      ++failed;
      P2P_WARN("scrub: chunk %s not checked: %s", hash.hex().c_str(), outcome.status().to_string().c_str());
    } else {
      read = outcome->bytes;
      if (outcome->dropped) {
        ++dropped;
        ++dropped_;
      }
    }
    bytes += read;
    ++chunks_;
    bytes_ += read;
    // Paced after the read: `read` bytes at bytes_per_second.
    const auto pause = std::chrono::nanoseconds(static_cast<std::int64_t>(
        static_cast<double>(read) * 1e9 / static_cast<double>(options_.bytes_per_second)));
    if (!sleep_for(pause)) return false;
  }
  ++passes_;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  P2P_INFO("scrub: pass done: %zu chunks, %llu bytes checked, %llu dropped, %llu unreadable, in %.1f s", hashes.size(),
           static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(dropped),
           static_cast<unsigned long long>(failed), seconds);
  return true;
}

}  // namespace p2p::peer
