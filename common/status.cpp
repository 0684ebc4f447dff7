#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace p2p {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kVersion: return "version";
    case ErrorCode::kUnknownCommand: return "unknown_command";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kNoPeers: return "no_peers";
    case ErrorCode::kNameExists: return "name_exists";
    case ErrorCode::kBadName: return "bad_name";
    case ErrorCode::kBadChunk: return "bad_chunk";
    case ErrorCode::kNoSpace: return "no_space";
    case ErrorCode::kMissingChunks: return "missing_chunks";
    case ErrorCode::kForwardFailed: return "forward_failed";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kShuttingDown: return "shutting_down";
    case ErrorCode::kAnnouncing: return "announcing";
  }
  return "unknown_error";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

Status errno_status(const std::string& what, const std::string& path, int err) {
  const ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode::kNoSpace : ErrorCode::kIo;
  return {code, what + " " + path + ": " + std::strerror(err)};
}

Status io_error(const std::string& what, const std::string& path, int err) {
  return {ErrorCode::kIo, what + " '" + path + "': " + std::strerror(err)};
}

}  // namespace p2p
