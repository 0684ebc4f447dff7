// The client's exit codes (docs/design-brief.md "Exit codes"; the README
// documents them) and the one line on stderr that explains a failure.
#pragma once

#include <string_view>

#include "common/status.h"

namespace p2p::client {

enum class Exit : int {
  kSuccess = 0,
  kInternal = 1,            // unexpected internal error
  kUsage = 2,               // bad flags or arguments
  kTrackerUnreachable = 3,  // no reply within --timeout-ms
  kNotFound = 4,            // unknown name or file id
  kNoPeers = 5,             // no live peers to store on
  kUnavailable = 6,         // no live holder can supply some chunk; or the index is incomplete: try again
  kInputUnreadable = 7,     // local input file missing or unreadable
  kOutputUnwritable = 8,    // output not writable, or exists and no --force
  kNoSpace = 9,             // a peer is out of space
  kNameExists = 10,         // the name holds different content (use --force)
  kBadName = 11,            // invalid file name
  kPeerError = 12,          // peer or protocol error (write pipeline failed, bad reply)
};

// Who reported a Status: the same code means different things from
// different places (a timeout is "tracker unreachable" from the tracker but
// a peer error from a peer; kIo is about the input or the output file).
// kLocal: this client's own finding (e.g. "no live peers to store on");
// its message is printed alone, like kInput/kOutput.
enum class Origin { kTracker, kPeer, kInput, kOutput, kLocal };

Exit exit_for(const Status& status, Origin origin);

// Prints "p2p: <what>" on stderr and returns `code` as a process exit code.
int fail(Exit code, std::string_view what);

// fail() with the code exit_for() picks; remote errors keep their code name
// ("p2p: not_found: no file named x"), local ones print the message alone.
int fail(const Status& status, Origin origin);

}  // namespace p2p::client
