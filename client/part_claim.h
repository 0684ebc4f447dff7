// claim_part: how a get takes the temporary file it writes (OUT.part) before
// it writes a byte there (client/output_file.h says why each step is there):
// - opened without following a symbolic link, and locked (flock, exclusive,
//   non-blocking) so that a second get to the same output fails at once;
// - a .part it creates is marked with the user xattr kPartOwnerXattr = the
//   file id (hex); an existing one is resumed only with this file's mark and
//   no other hard links, refused otherwise, and replaced (unlinked, created
//   anew) with `force`;
// - a .part that is neither a regular file nor a link is refused, `force` or not.
// Errors are kIo with the path and the reason. Thread affinity: none (no state).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace p2p::client {

// The user xattr that marks a .part as this client's, for the file whose id
// (64 lowercase hex digits) it holds.
inline constexpr const char* kPartOwnerXattr = "user.p2p.file_id";

struct PartClaim {
  int fd = -1;          // read-write, holds the lock; the caller closes it
  bool resume = false;  // an existing .part of this very file: its chunks may be kept
};

// Claims `part` for a get of the file `owner` (hex file id) to `path`
// (`path` only names the output in messages).
Result<PartClaim> claim_part(const std::string& part, const std::string& path, const std::string& owner, bool force);

// What a file of `mode` is when no get may replace it, even with --force (a
// FIFO or a device named as the output is a mistake, and replacing it would
// break whoever uses it); nullptr for a regular file or a symbolic link.
const char* special_kind(mode_t mode);

// The refusal of such a file at `path` (`what` prefixes it, e.g. "output "):
// kIo, with no hint at --force, which would not help.
Status special_file(const std::string& what, const std::string& path, const char* kind);

}  // namespace p2p::client
