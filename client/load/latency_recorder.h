// LatencyRecorder: a histogram of operation latencies with percentiles,
// in constant memory however many operations a run makes.
//
// Log-linear buckets (HdrHistogram's idea): values below 64 us are exact;
// above, each power of two is split into 64 buckets, so a reported
// percentile is within 1/64 (1.6%) of a recorded value. max is exact.
// Values are microseconds. Thread-compatible: one recorder per client
// thread, merged after the threads are joined.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace p2p::client::load {

class LatencyRecorder {
 public:
  void record(std::chrono::microseconds latency);
  void merge(const LatencyRecorder& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t max_us() const { return max_; }
  // The smallest recorded value v (to bucket precision) with at least
  // `fraction` of all values <= v (nearest rank); 0 when nothing was recorded.
  // REQUIRES: 0 < fraction <= 1.
  std::uint64_t percentile_us(double fraction) const;

 private:
  static constexpr int kSubBits = 6;  // 64 buckets per power of two: 1.6% precision
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = kSub * (64 - kSubBits + 1);

  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t upper_bound_of(std::size_t bucket);  // largest value in the bucket

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace p2p::client::load
