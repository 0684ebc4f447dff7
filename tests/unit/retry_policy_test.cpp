#include <catch2/catch.hpp>

#include <chrono>

#include "client/retry_policy.h"

using namespace p2p::client;
using namespace std::chrono_literals;

namespace {

RetryPolicy policy(std::chrono::milliseconds backoff, std::chrono::milliseconds budget) {
  RetryPolicy p;
  p.backoff = backoff;
  p.budget = budget;
  return p;
}

}  // namespace

TEST_CASE("retry pauses double from the backoff and stop at the one-second cap") {
  const RetryPolicy p = policy(50ms, 60s);
  CHECK(p.pause(1, 0ms) == 50ms);
  CHECK(p.pause(2, 0ms) == 100ms);
  CHECK(p.pause(3, 0ms) == 200ms);
  CHECK(p.pause(5, 0ms) == 800ms);
  CHECK(p.pause(6, 0ms) == kMaxBackoff);
  CHECK(p.pause(1000, 0ms) == kMaxBackoff);  // no overflow however many retries
}

TEST_CASE("retries stop once the budget since the first failure is spent") {
  RetryPolicy p;
  p.budget = 3000ms;
  CHECK(p.pause(40, 2999ms).has_value());  // the number of retries does not matter
  CHECK_FALSE(p.pause(1, 3000ms).has_value());
  p.budget = 0ms;
  CHECK_FALSE(p.pause(1, 0ms).has_value());
}

TEST_CASE("the default retry budget outlasts the tracker's default detection window several times") {
  // liveness 3 x heartbeat 1000 ms (README "Configuration").
  constexpr auto kDefaultDetectionWindow = 3000ms;
  const RetryPolicy p;
  CHECK(p.budget >= 3 * kDefaultDetectionWindow);
  CHECK(kMaxBackoff < kDefaultDetectionWindow);  // a recovered cluster is noticed within one window
}

TEST_CASE("attempts run the first at once and count only the retries") {
  const RetryPolicy p = policy(1ms, 60s);
  std::uint64_t retries = 0;
  Attempts a(p, retries);
  const auto start = std::chrono::steady_clock::now();
  CHECK(a.next());
  CHECK(retries == 0);
  CHECK(a.made() == 1);
  CHECK(a.next());
  CHECK(a.next());
  CHECK(retries == 2);
  CHECK(a.made() == 3);
  CHECK(std::chrono::steady_clock::now() - start >= 3ms);  // paused 1 ms, then 2 ms
}

TEST_CASE("attempts with no budget make exactly one attempt") {
  const RetryPolicy p = policy(50ms, 0ms);
  std::uint64_t retries = 0;
  Attempts a(p, retries);
  CHECK(a.next());
  CHECK_FALSE(a.next());
  CHECK(retries == 0);
  CHECK(a.made() == 1);
}

TEST_CASE("attempts keep retrying until the budget from the first failure is spent", "[timing]") {
  const RetryPolicy p = policy(5ms, 60ms);
  std::uint64_t retries = 0;
  Attempts a(p, retries);
  const auto start = std::chrono::steady_clock::now();
  int attempts = 0;
  while (a.next()) ++attempts;
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 60ms);
  CHECK(took < 1000ms);
  CHECK(attempts >= 3);  // 5 + 10 + 20 ms pauses fit before 60 ms
  CHECK(retries == static_cast<std::uint64_t>(attempts - 1));
}

TEST_CASE("a retry told nothing changes for a while waits that long, or gives up at once when the budget ends first") {
  const RetryPolicy p = policy(1ms, 60s);
  std::uint64_t retries = 0;
  Attempts a(p, retries);
  CHECK(a.next());
  const auto start = std::chrono::steady_clock::now();
  CHECK(a.next(30ms));  // not the 1 ms backoff
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
  CHECK(retries == 1);

  const RetryPolicy short_budget = policy(1ms, 100ms);
  std::uint64_t none = 0;
  Attempts b(short_budget, none);
  CHECK(b.next());
  const auto asked = std::chrono::steady_clock::now();
  CHECK_FALSE(b.next(60s));  // the answer cannot change within the budget
  CHECK(std::chrono::steady_clock::now() - asked < 1s);  // not the 60 s
  CHECK(none == 0);
}

TEST_CASE("attempts say whether they will retry, as next then does, before any pause") {
  const RetryPolicy none = policy(50ms, 0ms);
  std::uint64_t r0 = 0;
  Attempts once(none, r0);
  CHECK(once.will_retry());  // the first attempt is always made
  CHECK(once.next());
  CHECK_FALSE(once.will_retry());
  CHECK_FALSE(once.next());

  const RetryPolicy short_budget = policy(1ms, 100ms);
  std::uint64_t r1 = 0;
  Attempts a(short_budget, r1);
  CHECK(a.next());
  CHECK(a.will_retry());
  CHECK(a.will_retry(50ms));       // waits for it, within the budget
  CHECK_FALSE(a.will_retry(60s));  // nothing changes within the budget
  CHECK(r1 == 0);                  // asking made no attempt
  CHECK_FALSE(a.next(60s));
}
