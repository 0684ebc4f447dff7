// Status and Result<T>: the error type at every I/O and protocol boundary.
//
// A Status is either OK or an ErrorCode plus a human-readable message. The
// codes are the same numbers that travel in protocol ERROR replies
// (docs/protocol.md), so a peer's refusal reaches the user unchanged.
// Exceptions from cppzmq and msgpack are caught where they are thrown and
// turned into a Status; they never cross a service loop.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace p2p {

// Wire values: never renumber, only append (docs/protocol.md "Error codes").
enum class ErrorCode : std::uint16_t {
  kOk = 0,
  kBadRequest = 1,      // malformed frames, msgpack or field values
  kVersion = 2,         // protocol version not spoken here
  kUnknownCommand = 3,  // command byte not known to this receiver
  kNotFound = 4,        // no such file, chunk or manifest
  kUnavailable = 5,     // the file is known but no live holder has it all
  kNoPeers = 6,         // no live peer to place a file on
  kNameExists = 7,      // the name holds different content; use force
  kBadName = 8,         // a file name that is not a valid label
  kBadChunk = 9,        // chunk bytes do not match their SHA-256
  kNoSpace = 10,        // a peer is out of capacity
  kMissingChunks = 11,  // commit of a manifest whose chunks are not all here
  kForwardFailed = 12,  // the next peer of a write pipeline failed
  kTimeout = 13,        // no answer within the deadline
  kIo = 14,             // local disk or file error
  kInternal = 15,       // a bug or an unexpected exception
  kShuttingDown = 16,   // the receiver is stopping and takes no new work
  kAnnouncing = 17,     // not known yet: peers are still announcing their files; ask again
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // kForwardFailed: `failed_endpoint` is the data endpoint of the write
  // pipeline's peer that failed, which ErrorBody carries back to the client
  // so that it can blame that peer without parsing `message`.
  Status(ErrorCode code, std::string message, std::string failed_endpoint)
      : code_(code), message_(std::move(message)), failed_endpoint_(std::move(failed_endpoint)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Empty unless the constructor above set it.
  const std::string& failed_endpoint() const { return failed_endpoint_; }
  // "not_found: no file named x" -- for logs and the CLI's one-line errors.
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string failed_endpoint_;
};

// A failed system call on `path`: "WHAT PATH: strerror(err)". kNoSpace for
// ENOSPC and EDQUOT, so that callers can tell a full disk from a broken one;
// kIo for every other errno.
Status errno_status(const std::string& what, const std::string& path, int err);
// A failed system call on one of the user's own files (a get's output, a
// put's input): "WHAT 'PATH': strerror(err)", always kIo, even for ENOSPC:
// the user's disk is full, which is not a peer's no_space (client exit codes).
Status io_error(const std::string& what, const std::string& path, int err);

// A value or the Status that explains its absence.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: REQUIRES !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace p2p
