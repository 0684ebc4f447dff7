// LoadReport: what a load run measured, per operation and in total, and its
// two renderings: the table `p2p-load` prints and the JSON of --json (the
// schema bench/ reads; fields are only ever added).
//
// Errors are operations that failed after their retries (a get that
// succeeded on a retry is counted in `retries`, not in `errors`); a get whose
// bytes do not match the file's SHA-256 is an error and adds the file's size
// to corrupt_bytes. ok = no errors and no corrupt bytes.
// Value type; thread-compatible (one per client thread, merged at the end).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "client/load/latency_recorder.h"
#include "client/load/op_mix.h"

namespace p2p::client::load {

struct OpStats {
  std::uint64_t count = 0;    // completed, successful operations
  std::uint64_t bytes = 0;    // payload bytes of those (file sizes got or put)
  std::uint64_t errors = 0;   // failed after every retry (or corrupt)
  std::uint64_t retries = 0;  // attempts beyond the first, whatever their outcome
  LatencyRecorder latency;    // successful operations, retries included

  void merge(const OpStats& other);
};

struct LoadReport {
  std::size_t clients = 0;
  double duration_s = 0;  // wall time of the measured phase (not the seeding)
  std::size_t files = 0;  // seeded files
  std::array<OpStats, kOpCount> ops;
  std::uint64_t corrupt_bytes = 0;
  std::uint64_t seed_retries = 0;  // retries of the seeding puts (before the measured phase)
  // The waits the run was given (its flags), which bound its latencies: JSON
  // "timeouts_ms": {tracker, chunk, hedge, retry}.
  struct Timeouts {
    std::int64_t tracker = 0, chunk = 0, hedge = 0, retry = 0;
  } timeouts_ms;

  OpStats& op(Op o) { return ops[static_cast<std::size_t>(o)]; }
  const OpStats& op(Op o) const { return ops[static_cast<std::size_t>(o)]; }
  void merge(const LoadReport& other);  // ops and corruption; not clients/duration/files/seed_retries/timeouts

  std::uint64_t failed_gets() const { return op(Op::kGet).errors; }
  bool ok() const;

  nlohmann::json to_json() const;
  // The human-readable table, one row per operation, then totals.
  std::string table() const;
};

}  // namespace p2p::client::load
