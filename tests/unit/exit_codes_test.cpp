#include <catch2/catch.hpp>

#include "client/exit_codes.h"

using namespace p2p;
using p2p::client::Exit;
using p2p::client::exit_for;
using p2p::client::Origin;

namespace {
Exit from(ErrorCode code, Origin origin) { return exit_for(Status(code, "x"), origin); }
}  // namespace

TEST_CASE("exit codes match the documented table") {
  CHECK(static_cast<int>(Exit::kSuccess) == 0);
  CHECK(static_cast<int>(Exit::kInternal) == 1);
  CHECK(static_cast<int>(Exit::kUsage) == 2);
  CHECK(static_cast<int>(Exit::kTrackerUnreachable) == 3);
  CHECK(static_cast<int>(Exit::kNotFound) == 4);
  CHECK(static_cast<int>(Exit::kNoPeers) == 5);
  CHECK(static_cast<int>(Exit::kUnavailable) == 6);
  CHECK(static_cast<int>(Exit::kInputUnreadable) == 7);
  CHECK(static_cast<int>(Exit::kOutputUnwritable) == 8);
  CHECK(static_cast<int>(Exit::kNoSpace) == 9);
  CHECK(static_cast<int>(Exit::kNameExists) == 10);
  CHECK(static_cast<int>(Exit::kBadName) == 11);
  CHECK(static_cast<int>(Exit::kPeerError) == 12);
}

TEST_CASE("tracker errors map to their exit codes") {
  CHECK(from(ErrorCode::kTimeout, Origin::kTracker) == Exit::kTrackerUnreachable);
  CHECK(from(ErrorCode::kNotFound, Origin::kTracker) == Exit::kNotFound);
  CHECK(from(ErrorCode::kNoPeers, Origin::kTracker) == Exit::kNoPeers);
  CHECK(from(ErrorCode::kNoSpace, Origin::kTracker) == Exit::kNoSpace);
  CHECK(from(ErrorCode::kUnavailable, Origin::kTracker) == Exit::kUnavailable);
  CHECK(from(ErrorCode::kAnnouncing, Origin::kTracker) == Exit::kUnavailable);
  CHECK(from(ErrorCode::kNameExists, Origin::kTracker) == Exit::kNameExists);
  CHECK(from(ErrorCode::kBadName, Origin::kTracker) == Exit::kBadName);
  CHECK(from(ErrorCode::kBadRequest, Origin::kTracker) == Exit::kPeerError);
  CHECK(from(ErrorCode::kVersion, Origin::kTracker) == Exit::kPeerError);
}

TEST_CASE("peer errors map to their exit codes") {
  CHECK(from(ErrorCode::kTimeout, Origin::kPeer) == Exit::kPeerError);
  CHECK(from(ErrorCode::kForwardFailed, Origin::kPeer) == Exit::kPeerError);
  CHECK(from(ErrorCode::kBadChunk, Origin::kPeer) == Exit::kPeerError);
  CHECK(from(ErrorCode::kMissingChunks, Origin::kPeer) == Exit::kPeerError);
  CHECK(from(ErrorCode::kNoSpace, Origin::kPeer) == Exit::kNoSpace);
  CHECK(from(ErrorCode::kIo, Origin::kPeer) == Exit::kPeerError);
  CHECK(from(ErrorCode::kInternal, Origin::kPeer) == Exit::kPeerError);
  CHECK(from(ErrorCode::kShuttingDown, Origin::kPeer) == Exit::kPeerError);
}

TEST_CASE("local file errors map to input and output exit codes") {
  CHECK(from(ErrorCode::kIo, Origin::kInput) == Exit::kInputUnreadable);
  CHECK(from(ErrorCode::kIo, Origin::kOutput) == Exit::kOutputUnwritable);
  CHECK(from(ErrorCode::kUnavailable, Origin::kOutput) == Exit::kUnavailable);
  CHECK(from(ErrorCode::kInternal, Origin::kOutput) == Exit::kInternal);
}

TEST_CASE("a failure is never reported as exit 0") {
  for (Origin origin : {Origin::kTracker, Origin::kPeer, Origin::kInput, Origin::kOutput}) {
    for (int code = 1; code <= static_cast<int>(ErrorCode::kAnnouncing); ++code)
      CHECK(from(static_cast<ErrorCode>(code), origin) != Exit::kSuccess);
  }
  CHECK(p2p::client::fail(Status::Ok(), Origin::kTracker) != 0);
}
