#include "client/load/size_spec.h"

#include <cctype>
#include <limits>

#include "client/load/spec_items.h"

namespace p2p::client::load {

Result<std::uint64_t> parse_size(const std::string& text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
      return Status{ErrorCode::kBadRequest, "size '" + text + "' is too large"};
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return Status{ErrorCode::kBadRequest, "size '" + text + "' does not start with a number"};
  std::string unit;
  for (; i < text.size(); ++i) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  int shift = -1;
  if (unit.empty() || unit == "b") shift = 0;
  if (unit == "k" || unit == "kb" || unit == "kib") shift = 10;
  if (unit == "m" || unit == "mb" || unit == "mib") shift = 20;
  if (unit == "g" || unit == "gb" || unit == "gib") shift = 30;
  if (shift < 0) return Status{ErrorCode::kBadRequest, "size '" + text + "' has an unknown unit"};
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift))
    return Status{ErrorCode::kBadRequest, "size '" + text + "' is too large"};
  return value << shift;
}

Result<SizeSpec> SizeSpec::parse(const std::string& text) {
  Result<std::vector<SpecItem>> items = split_spec(text, ':', "--sizes");
  if (!items.ok()) return items.status();
  SizeSpec spec;
  for (const SpecItem& item : items.value()) {
    Result<std::uint64_t> bytes = parse_size(item.key);
    if (!bytes.ok()) return Status{ErrorCode::kBadRequest, "--sizes: " + bytes.status().message()};
    spec.choices_.push_back({bytes.value(), item.weight});
    spec.total_weight_ += item.weight;
  }
  return spec;
}

std::uint64_t SizeSpec::pick(std::mt19937_64& rng) const {
  std::uint64_t r = std::uniform_int_distribution<std::uint64_t>(0, total_weight_ - 1)(rng);
  for (const SizeChoice& c : choices_) {
    if (r < c.weight) return c.bytes;
    r -= c.weight;
  }
  return choices_.back().bytes;
}

}  // namespace p2p::client::load
