#include "client/load/latency_recorder.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace p2p::client::load {

std::size_t LatencyRecorder::bucket_of(std::uint64_t value) {
  if (value < kSub) return static_cast<std::size_t>(value);
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBits
  const int shift = exponent - kSubBits;
  const std::uint64_t sub = (value >> shift) & (kSub - 1);
  return kSub * static_cast<std::size_t>(shift + 1) + static_cast<std::size_t>(sub);
}

std::uint64_t LatencyRecorder::upper_bound_of(std::size_t bucket) {
  if (bucket < kSub) return bucket;
  const int shift = static_cast<int>(bucket / kSub) - 1;
  const std::uint64_t sub = bucket % kSub;
  const std::uint64_t low = (kSub + sub) << shift;
  return low + ((std::uint64_t{1} << shift) - 1);
}

void LatencyRecorder::record(std::chrono::microseconds latency) {
  const std::uint64_t v = latency.count() < 0 ? 0 : static_cast<std::uint64_t>(latency.count());
  ++buckets_[bucket_of(v)];
  ++count_;
  max_ = std::max(max_, v);
}

void LatencyRecorder::merge(const LatencyRecorder& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyRecorder::percentile_us(double fraction) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) return std::min(upper_bound_of(i), max_);
  }
  return max_;
}

}  // namespace p2p::client::load
