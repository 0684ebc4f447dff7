#include "client/exit_codes.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace p2p::client {

Exit exit_for(const Status& status, Origin origin) {
  const bool remote = origin == Origin::kTracker || origin == Origin::kPeer;
  switch (status.code()) {
    case ErrorCode::kOk: return Exit::kSuccess;
    case ErrorCode::kNotFound: return origin == Origin::kTracker ? Exit::kNotFound : Exit::kPeerError;
    case ErrorCode::kUnavailable: return Exit::kUnavailable;
    case ErrorCode::kAnnouncing: return Exit::kUnavailable;  // still unknown after the retries: try later
    case ErrorCode::kNoPeers: return Exit::kNoPeers;
    case ErrorCode::kNameExists: return Exit::kNameExists;
    case ErrorCode::kBadName: return Exit::kBadName;
    case ErrorCode::kNoSpace: return Exit::kNoSpace;
    case ErrorCode::kTimeout: return origin == Origin::kTracker ? Exit::kTrackerUnreachable : Exit::kPeerError;
    case ErrorCode::kIo:
      if (origin == Origin::kInput) return Exit::kInputUnreadable;
      if (origin == Origin::kOutput) return Exit::kOutputUnwritable;
      return Exit::kPeerError;  // a remote disk failed
    case ErrorCode::kBadRequest:
    case ErrorCode::kVersion:
    case ErrorCode::kUnknownCommand:
    case ErrorCode::kBadChunk:
    case ErrorCode::kMissingChunks:
    case ErrorCode::kForwardFailed:
    case ErrorCode::kShuttingDown:
      return Exit::kPeerError;
    case ErrorCode::kInternal: return remote ? Exit::kPeerError : Exit::kInternal;
  }
  return Exit::kInternal;
}

int fail(Exit code, std::string_view what) {
  // A progress bar may be on the line: start the message on a clean one.
  if (::isatty(STDERR_FILENO) == 1) std::fputs("\r\x1b[K", stderr);
  std::fprintf(stderr, "p2p: %.*s\n", static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  return static_cast<int>(code);
}

int fail(const Status& status, Origin origin) {
  // A failure path must never exit 0, even if a caller passes OK by mistake.
  if (status.ok()) return fail(Exit::kInternal, "internal error: failure reported without a cause");
  const bool remote = origin == Origin::kTracker || origin == Origin::kPeer;
  std::string what = remote || status.message().empty() ? status.to_string() : status.message();
  return fail(exit_for(status, origin), what);
}

}  // namespace p2p::client
