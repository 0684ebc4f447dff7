// File names are labels in the network's index, never paths on any peer.
#pragma once

#include <string_view>

#include "common/status.h"

namespace p2p {

// OK when `name` is a valid label: 1..255 bytes, valid UTF-8 is not required
// but '/', '\\', NUL and other control characters are refused, and so are
// "." and "..". Returns kBadName with a reason the CLI prints as is.
Status validate_name(std::string_view name);

}  // namespace p2p
