#include "services/peer/peer_options.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <thread>

namespace p2p::peer {

unsigned default_workers() { return std::max(4u, std::thread::hardware_concurrency()); }

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string suffix;
  for (; i < text.size(); ++i) suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  int shift = 0;
  if (!suffix.empty() && suffix != "B") {
    const std::string units = "KMGT";
    std::size_t unit = units.find(suffix[0]);
    std::string rest = suffix.substr(1);
    if (unit == std::string::npos || !(rest.empty() || rest == "B" || rest == "IB")) return std::nullopt;
    shift = 10 * static_cast<int>(unit + 1);
  }
  if (shift > 0 && value > (kMax >> shift)) return std::nullopt;
  return value << shift;
}

bool is_wildcard_endpoint(std::string_view endpoint) {
  return endpoint.find("://*") != std::string_view::npos || endpoint.find("://0.0.0.0") != std::string_view::npos ||
         endpoint.find("://[::]") != std::string_view::npos;
}

}  // namespace p2p::peer
