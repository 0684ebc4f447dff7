#include "common/file_name.h"

#include <algorithm>
#include <string>

#include "common/hash.h"
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
  // get, stat and locate take a name or a file id; a name that reads as a
  // file id would hide, or be hidden by, the file with that id.
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  if (name.size() == 2 * Hash::kSize && std::all_of(name.begin(), name.end(), hex))
    return {ErrorCode::kBadName, "file name may not be 64 hex digits: it would read as a file id"};
  return Status::Ok();
}

}  // namespace p2p
