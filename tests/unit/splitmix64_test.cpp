// common/splitmix64.h: the generator behind generated load files and the
// mixer behind LOCATE's holder order.
#include <catch2/catch.hpp>

#include <cstdint>

#include "common/splitmix64.h"

TEST_CASE("splitmix64 gives the reference stream of Vigna's splitmix64.c") {
  std::uint64_t state = 1234567;
  CHECK(p2p::splitmix64(state) == 6457827717110365317ULL);
  CHECK(p2p::splitmix64(state) == 3203168211198807973ULL);
  CHECK(p2p::splitmix64(state) == 9817491932198370423ULL);
}

TEST_CASE("mix64 sends neighbouring inputs far apart") {
  // Routing ids that libzmq counts up must not give near ranks.
  const std::uint64_t a = p2p::mix64(1000);
  const std::uint64_t b = p2p::mix64(1001);
  CHECK(__builtin_popcountll(a ^ b) >= 16);
  CHECK(p2p::mix64(0) == 0);  // the finaliser alone has a fixed point at 0: splitmix64 adds its step first
}
