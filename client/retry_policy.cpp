#include "client/retry_policy.h"

#include <algorithm>
#include <thread>

namespace p2p::client {

namespace {

// Doublings beyond this already exceed any sane cap; keeps the shift defined.
constexpr std::uint32_t kMaxDoublings = 20;

}  // namespace

std::optional<std::chrono::milliseconds> RetryPolicy::pause(std::uint32_t retry,
                                                            std::chrono::milliseconds since_first_failure) const {
  if (since_first_failure >= budget) return std::nullopt;
  const auto doubled = backoff * (std::int64_t{1} << std::min(retry - 1, kMaxDoublings));
  return std::min<std::chrono::milliseconds>(doubled, kMaxBackoff);
}

std::optional<std::chrono::milliseconds> Attempts::pause_before_next(std::chrono::milliseconds not_before) const {
  // The first failure is now until the second attempt starts.
  const auto since = done_ <= 1 ? std::chrono::milliseconds{0}
                                : std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - first_failure_);
  std::optional<std::chrono::milliseconds> wait = policy_.pause(done_, since);
  if (!wait) return std::nullopt;
  if (not_before > *wait) {
    if (since + not_before > policy_.budget) return std::nullopt;
    wait = not_before;
  }
  return wait;
}

bool Attempts::will_retry(std::chrono::milliseconds not_before) const {
  return done_ == 0 || pause_before_next(not_before).has_value();
}

bool Attempts::next(std::chrono::milliseconds not_before) {
  if (done_ == 0) {
    ++done_;
    return true;
  }
  if (done_ == 1) first_failure_ = Clock::now();
  const std::optional<std::chrono::milliseconds> wait = pause_before_next(not_before);
  if (!wait) return false;
  std::this_thread::sleep_for(*wait);
  ++done_;
  ++retries_;
  return true;
}

}  // namespace p2p::client
