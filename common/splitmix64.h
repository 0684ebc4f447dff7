// splitmix64 (Vigna): a 64-bit bit mixer and the generator built on it.
// Header only; pure functions.
#pragma once

#include <cstdint>

namespace p2p {

// splitmix64's finaliser: every input bit moves about half the output bits,
// so nearby inputs (counters, routing ids) give unrelated outputs. A bijection.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The next value of the splitmix64 stream at `state`, which it advances:
// fast, and every 64-bit seed gives a distinct stream. Not for secrets.
constexpr std::uint64_t splitmix64(std::uint64_t& state) { return mix64(state += 0x9e3779b97f4a7c15ULL); }

}  // namespace p2p
