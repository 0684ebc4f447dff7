// The shared grammar of --sizes and --mix: comma-separated "KEY<sep>WEIGHT"
// items, e.g. "4KiB:90,1MiB:10" or "get=80,put=20".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace p2p::client::load {

struct SpecItem {
  std::string key;
  std::uint32_t weight = 0;
};

// Splits `text`; kBadRequest (prefixed with `flag`) for an empty list, an
// item without `sep`, an empty key, or a weight that is not a positive integer.
Result<std::vector<SpecItem>> split_spec(const std::string& text, char sep, const std::string& flag);

}  // namespace p2p::client::load
