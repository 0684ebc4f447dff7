// RetryPolicy: how long a client keeps retrying a failed operation (`p2p put`,
// `p2p get`, and every operation of the load generator).
//
// The budget is time, not a count of attempts, because what a retry waits
// out is a time: a peer killed with -9 is still placed by the tracker, and
// listed as a holder, until liveness x heartbeat-ms has passed (3 s with the
// defaults). The budget runs from the operation's first failure, not from its
// start, so a slow failed attempt (a put that waited chunk-timeout-ms for
// each hop of a chain through a dead peer) does not eat it: an attempt
// started once the tracker has noticed the death succeeds.
//
// Between attempts the pause starts at `backoff` and doubles, capped at
// kMaxBackoff, so a budget of B ms costs at most about B / kMaxBackoff
// attempts however long the outage.
//
// Attempts walks one operation through the policy (the loop run_put, run_get,
// ask_again (client/tracker_retry.h) and each operation of LoadClient run). Value types; Attempts is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace p2p::client {

// The longest pause between two attempts: short against the default budget,
// so an operation notices the cluster has recovered within a second.
inline constexpr std::chrono::milliseconds kMaxBackoff{1000};

struct RetryPolicy {
  // First pause before a retry. Short: a dead holder is dropped by its chunk
  // timeout, not by waiting here.
  std::chrono::milliseconds backoff{50};
  // Retries start until this long after the first failure: three of the
  // tracker's default detection windows (3 x 1 s heartbeats), so an outage
  // that outlives one window, or two kills in a row, still ends in success.
  std::chrono::milliseconds budget{10000};

  // Pause before retry `retry` (1 = the first retry) of an operation that
  // first failed `since_first_failure` ago; nullopt once the budget is spent.
  // REQUIRES: retry >= 1.
  std::optional<std::chrono::milliseconds> pause(std::uint32_t retry,
                                                 std::chrono::milliseconds since_first_failure) const;
};

class Attempts {
 public:
  // `retries` counts the attempts after the first (the report's retries);
  // it must outlive this object.
  Attempts(const RetryPolicy& policy, std::uint64_t& retries) : policy_(policy), retries_(retries) {}

  // Call before each attempt. True at once for the first; after that (the
  // previous attempt failed) sleeps the policy's pause, counts a retry and
  // returns true, or returns false once the budget is spent.
  // `not_before`: the previous answer says it cannot change sooner (the
  // tracker's rejoin window has that long left): the pause is at least that,
  // and when the budget ends before it, false at once rather than a retry
  // bound to get the same answer.
  bool next(std::chrono::milliseconds not_before = std::chrono::milliseconds{0});
  // Whether next(not_before) would make another attempt, without waiting:
  // so that a caller says "asking again" before the pause, and only when it will.
  bool will_retry(std::chrono::milliseconds not_before = std::chrono::milliseconds{0}) const;
  // Attempts made so far (for error messages).
  std::uint32_t made() const { return done_; }

 private:
  using Clock = std::chrono::steady_clock;

  // The pause before the next attempt, or nullopt when there is none.
  // REQUIRES: done_ >= 1; first_failure_ set once done_ > 1.
  std::optional<std::chrono::milliseconds> pause_before_next(std::chrono::milliseconds not_before) const;

  const RetryPolicy& policy_;
  std::uint64_t& retries_;
  std::uint32_t done_ = 0;  // attempts made so far
  Clock::time_point first_failure_;
};

}  // namespace p2p::client
