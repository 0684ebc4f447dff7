#include "client/load/spec_items.h"

#include <cctype>

namespace p2p::client::load {

namespace {

// Weights above this are typos, and keep sums of a few of them far from overflow.
constexpr std::uint32_t kMaxWeight = 1000000;

}  // namespace

Result<std::vector<SpecItem>> split_spec(const std::string& text, char sep, const std::string& flag) {
  std::vector<SpecItem> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const std::size_t at = item.find(sep);
    if (item.empty() || at == std::string::npos || at == 0 || at + 1 == item.size())
      return Status{ErrorCode::kBadRequest, flag + ": '" + item + "' is not KEY" + sep + "WEIGHT"};
    const std::string weight = item.substr(at + 1);
    std::uint64_t w = 0;
    for (char c : weight) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || w > kMaxWeight)
        return Status{ErrorCode::kBadRequest, flag + ": weight '" + weight + "' is not a positive integer"};
      w = w * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (w == 0 || w > kMaxWeight)
      return Status{ErrorCode::kBadRequest, flag + ": weight '" + weight + "' must be 1 to " + std::to_string(kMaxWeight)};
    items.push_back({item.substr(0, at), static_cast<std::uint32_t>(w)});
    start = end + 1;
  }
  return items;
}

}  // namespace p2p::client::load
