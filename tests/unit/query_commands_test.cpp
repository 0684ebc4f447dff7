// `p2p ls`, `search`, `stat`, `peers` and `status` (client/query_commands.h)
// against a fake tracker on tcp: a busy tracker is asked again, an absent one
// is not.
#include <catch2/catch.hpp>

#include <atomic>

#include "client/exit_codes.h"
#include "client/query_commands.h"
#include "fake_peer.h"

using namespace p2p;
using namespace std::chrono_literals;
using test::FakePeer;
using test::FakeReply;

namespace {

// Short, so that a test waits out an unanswered request quickly.
constexpr auto kTimeout = 300ms;

client::GlobalOptions options_for(const std::string& tracker) {
  client::GlobalOptions global;
  global.tracker = tracker;
  global.timeout = kTimeout;
  global.quiet = true;
  return global;
}

// A tracker whose broker is busy for the first request (never answered),
// then answers `command` with `reply`; counts the requests in `asked`.
template <class Reply>
FakePeer::Handler busy_once(proto::Command command, const Reply& reply, std::atomic<int>& asked) {
  return [command, reply, &asked](const codec::Envelope& env) {
    if (env.cmd() != command) return FakeReply::error(ErrorCode::kBadRequest, "unexpected command");
    if (++asked == 1) return FakeReply::silence();
    FakeReply r;
    r.body = codec::encode(reply);
    return r;
  };
}

}  // namespace

TEST_CASE("an ls that a connected tracker leaves unanswered asks again and prints the answer") {
  zmq::context_t ctx;
  std::atomic<int> asked{0};
  // No file, a complete index.
  FakePeer tracker(ctx, "tcp://127.0.0.1:*", busy_once(proto::Command::kList, proto::ListReply{}, asked));
  CHECK(client::run_ls(ctx, options_for(tracker.bound()), false, 10s) == 0);
  CHECK(asked == 2);
}

TEST_CASE("a stat whose tracker is not there fails at its first timeout, without asking again") {
  zmq::context_t ctx;
  const auto start = Clock::now();
  // Port 1: nothing listens, so no connection ever comes up.
  CHECK(client::run_stat(ctx, options_for("tcp://127.0.0.1:1"), "doc.bin", false, 10s) ==
        static_cast<int>(client::Exit::kTrackerUnreachable));
  // Asked again, it would go on until the 10 s budget after the first timeout.
  CHECK(Clock::now() - start < 5s);
}

TEST_CASE("a status that a connected tracker leaves unanswered asks again and prints the answer") {
  zmq::context_t ctx;
  std::atomic<int> asked{0};
  FakePeer tracker(ctx, "tcp://127.0.0.1:*", busy_once(proto::Command::kStatus, proto::StatusReply{}, asked));
  CHECK(client::run_status(ctx, options_for(tracker.bound()), true, 10s) == 0);
  CHECK(asked == 2);
}

TEST_CASE("a peers that a connected tracker leaves unanswered asks again and prints the answer") {
  zmq::context_t ctx;
  std::atomic<int> asked{0};
  FakePeer tracker(ctx, "tcp://127.0.0.1:*", busy_once(proto::Command::kPeers, proto::PeersReply{}, asked));
  CHECK(client::run_peers(ctx, options_for(tracker.bound()), false, 10s) == 0);
  CHECK(asked == 2);
}

TEST_CASE("a status with --retry-ms 0 fails at a busy tracker's first timeout") {
  zmq::context_t ctx;
  std::atomic<int> asked{0};
  FakePeer tracker(ctx, "tcp://127.0.0.1:*", [&asked](const codec::Envelope&) {
    ++asked;
    return FakeReply::silence();
  });
  CHECK(client::run_status(ctx, options_for(tracker.bound()), false, 0ms) ==
        static_cast<int>(client::Exit::kTrackerUnreachable));
  CHECK(asked == 1);
}

TEST_CASE("a status whose tracker is not there fails at its first timeout, without asking again") {
  zmq::context_t ctx;
  const auto start = Clock::now();
  CHECK(client::run_status(ctx, options_for("tcp://127.0.0.1:1"), false, 10s) ==
        static_cast<int>(client::Exit::kTrackerUnreachable));
  CHECK(Clock::now() - start < 5s);
}
