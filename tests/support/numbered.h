// Names like "f17" for test files, built by appending: GCC 12 warns falsely
// on "f" + std::to_string(i) once it inlines it (-Wrestrict, its bug 105329).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace p2p::test {

inline std::string numbered(std::string_view prefix, std::uint64_t i) {
  std::string name(prefix);
  name += std::to_string(i);
  return name;
}

}  // namespace p2p::test
