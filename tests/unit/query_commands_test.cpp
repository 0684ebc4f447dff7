// `p2p ls`, `search` and `stat` (client/query_commands.h) against a fake
// tracker on tcp: a busy tracker is asked again, an absent one is not.
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

}  // namespace

TEST_CASE("an ls that a connected tracker leaves unanswered asks again and prints the answer") {
  zmq::context_t ctx;
  std::atomic<int> lists{0};
  FakePeer tracker(ctx, "tcp://127.0.0.1:*", [&lists](const codec::Envelope& env) {
    if (env.cmd() != proto::Command::kList) return FakeReply::error(ErrorCode::kBadRequest, "not a LIST");
    if (++lists == 1) return FakeReply::silence();  // the broker is busy
    FakeReply r;
    r.body = codec::encode(proto::ListReply{});  // no file, a complete index
    return r;
  });
  CHECK(client::run_ls(ctx, options_for(tracker.bound()), false, 10s) == 0);
  CHECK(lists == 2);
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
