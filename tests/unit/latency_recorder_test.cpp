#include <catch2/catch.hpp>

#include <chrono>

#include "client/load/latency_recorder.h"

using p2p::client::load::LatencyRecorder;
using std::chrono::microseconds;

TEST_CASE("an empty latency recorder reports zero everywhere") {
  LatencyRecorder r;
  CHECK(r.count() == 0);
  CHECK(r.max_us() == 0);
  CHECK(r.percentile_us(0.5) == 0);
  CHECK(r.percentile_us(1.0) == 0);
}

TEST_CASE("latencies below 64 us are kept exactly and percentiles use the nearest rank") {
  LatencyRecorder r;
  for (int v = 1; v <= 50; ++v) r.record(microseconds(v));
  CHECK(r.count() == 50);
  CHECK(r.percentile_us(0.50) == 25);
  CHECK(r.percentile_us(0.95) == 48);  // ceil(47.5)
  CHECK(r.percentile_us(0.99) == 50);
  CHECK(r.percentile_us(1.00) == 50);
  CHECK(r.percentile_us(0.001) == 1);
  CHECK(r.max_us() == 50);
}

TEST_CASE("large latencies are reported within 1/64 and max is exact") {
  LatencyRecorder r;
  for (std::uint64_t v = 1; v <= 10000; ++v) r.record(microseconds(v * 1000));  // 1 ms .. 10 s
  const auto within = [](std::uint64_t got, double want) {
    return static_cast<double>(got) >= want && static_cast<double>(got) <= want * (1 + 1.0 / 64);
  };
  CHECK(within(r.percentile_us(0.50), 5000e3));
  CHECK(within(r.percentile_us(0.95), 9500e3));
  CHECK(within(r.percentile_us(0.99), 9900e3));
  CHECK(r.max_us() == 10000000);
  CHECK(r.percentile_us(1.0) == 10000000);  // never above max
}

TEST_CASE("one slow outlier moves p99 and max but not p50") {
  LatencyRecorder r;
  for (int i = 0; i < 99; ++i) r.record(microseconds(1000));
  r.record(microseconds(5000000));
  CHECK(r.percentile_us(0.50) >= 1000);
  CHECK(r.percentile_us(0.50) <= 1016);
  CHECK(r.percentile_us(0.99) <= 1016);
  CHECK(r.percentile_us(1.0) == 5000000);
  CHECK(r.max_us() == 5000000);
}

TEST_CASE("merged latency recorders equal one that saw every value") {
  LatencyRecorder a, b, all;
  for (int v = 0; v < 1000; ++v) {
    (v % 3 == 0 ? a : b).record(microseconds(v * 37));
    all.record(microseconds(v * 37));
  }
  a.merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.max_us() == all.max_us());
  for (double f : {0.1, 0.5, 0.9, 0.95, 0.99, 1.0}) CHECK(a.percentile_us(f) == all.percentile_us(f));
}

TEST_CASE("a negative latency is recorded as zero") {
  LatencyRecorder r;
  r.record(microseconds(-5));
  CHECK(r.count() == 1);
  CHECK(r.max_us() == 0);
  CHECK(r.percentile_us(1.0) == 0);
}
