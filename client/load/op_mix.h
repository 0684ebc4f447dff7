// OpMix: the operations a load client draws, parsed from
// "--mix get=80,put=5,search=10,locate=5". Operations left out get weight 0;
// at least one must be listed. Value type; thread-compatible.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "common/status.h"

namespace p2p::client::load {

enum class Op : std::size_t { kGet = 0, kPut = 1, kSearch = 2, kLocate = 3 };
inline constexpr std::size_t kOpCount = 4;

// "get", "put", "search", "locate": the names in --mix, the report and the JSON.
const char* op_name(Op op);

class OpMix {
 public:
  // kBadRequest for an unknown operation, a repeated one, or a bad weight.
  static Result<OpMix> parse(const std::string& text);

  std::uint32_t weight(Op op) const { return weights_[static_cast<std::size_t>(op)]; }
  Op pick(std::mt19937_64& rng) const;

 private:
  std::array<std::uint32_t, kOpCount> weights_{};
  std::uint64_t total_ = 0;
};

}  // namespace p2p::client::load
