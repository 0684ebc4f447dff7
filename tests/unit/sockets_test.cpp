#include <catch2/catch.hpp>

#include "common/sockets.h"

using namespace p2p;
using namespace std::chrono_literals;

TEST_CASE("a poll timeout to a deadline is rounded up so the poll never ends before it") {
  // Rounded down, 0.3 ms left would give a 0 ms poll that returns at once,
  // and a loop waiting for the deadline would spin.
  for (auto left : {300us, 1000us, 5300us}) {
    const Clock::time_point deadline = Clock::now() + left;
    const std::chrono::milliseconds timeout = until(deadline);
    CHECK(Clock::now() + timeout >= deadline);
    CHECK(timeout <= std::chrono::ceil<std::chrono::milliseconds>(left));
  }
}

TEST_CASE("a poll timeout to a deadline already past is 0") {
  CHECK(until(Clock::now() - 1s) == 0ms);
  CHECK(until(Clock::time_point{}) == 0ms);
}
