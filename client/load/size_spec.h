// SizeSpec: the file sizes a load run puts, as weighted choices, parsed from
// "--sizes 4KiB:90,1MiB:8,32MiB:2" (90% 4 KiB files, 8% 1 MiB, 2% 32 MiB).
//
// A size is a number with an optional unit: B, K/KiB, M/MiB, G/GiB (powers
// of 1024; "KB" is read the same, the load generator's sizes are binary).
// A weight is a positive integer; weights need not add up to 100.
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"

namespace p2p::client::load {

struct SizeChoice {
  std::uint64_t bytes = 0;
  std::uint32_t weight = 0;
};

class SizeSpec {
 public:
  // kBadRequest naming the bad item for an empty spec, a malformed item, a
  // zero weight or an unknown unit.
  static Result<SizeSpec> parse(const std::string& text);

  const std::vector<SizeChoice>& choices() const { return choices_; }
  // One size, drawn with the choices' weights.
  std::uint64_t pick(std::mt19937_64& rng) const;

 private:
  std::vector<SizeChoice> choices_;
  std::uint64_t total_weight_ = 0;
};

// "4KiB" -> 4096; "1M" -> 1048576; "17" -> 17; kBadRequest otherwise.
Result<std::uint64_t> parse_size(const std::string& text);

}  // namespace p2p::client::load
