#include "common/file_name.h"

#include <string>

#include "common/limits.h"

namespace p2p {

Status validate_name(std::string_view name) {
  if (name.empty()) return {ErrorCode::kBadName, "file name is empty"};
  if (name.size() > limits::kMaxNameBytes)
    return {ErrorCode::kBadName, "file name is longer than " + std::to_string(limits::kMaxNameBytes) + " bytes"};
  if (name == "." || name == "..") return {ErrorCode::kBadName, "file name may not be '.' or '..'"};
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\') return {ErrorCode::kBadName, "file name may not contain '/' or '\\'"};
    if (u < 0x20 || u == 0x7f) return {ErrorCode::kBadName, "file name may not contain control characters"};
  }
  return Status::Ok();
}

}  // namespace p2p
