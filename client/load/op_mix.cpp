#include "client/load/op_mix.h"

#include "client/load/spec_items.h"

namespace p2p::client::load {

const char* op_name(Op op) {
  switch (op) {
    case Op::kGet: return "get";
    case Op::kPut: return "put";
    case Op::kSearch: return "search";
    case Op::kLocate: return "locate";
  }
  return "?";
}

Result<OpMix> OpMix::parse(const std::string& text) {
  Result<std::vector<SpecItem>> items = split_spec(text, '=', "--mix");
  if (!items.ok()) return items.status();
  OpMix mix;
  for (const SpecItem& item : items.value()) {
    bool known = false;
    for (std::size_t i = 0; i < kOpCount; ++i) {
      if (item.key != op_name(static_cast<Op>(i))) continue;
      if (mix.weights_[i] != 0) return Status{ErrorCode::kBadRequest, "--mix: '" + item.key + "' given twice"};
      mix.weights_[i] = item.weight;
      mix.total_ += item.weight;
      known = true;
    }
    if (!known)
      return Status{ErrorCode::kBadRequest, "--mix: unknown operation '" + item.key + "' (get, put, search, locate)"};
  }
  return mix;
}

Op OpMix::pick(std::mt19937_64& rng) const {
  std::uint64_t r = std::uniform_int_distribution<std::uint64_t>(0, total_ - 1)(rng);
  for (std::size_t i = 0; i < kOpCount; ++i) {
    if (r < weights_[i]) return static_cast<Op>(i);
    r -= weights_[i];
  }
  return Op::kGet;
}

}  // namespace p2p::client::load
