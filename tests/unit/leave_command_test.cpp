#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <string>

#include "client/exit_codes.h"
#include "client/leave_command.h"
#include "fake_peer.h"

using namespace p2p;
using namespace std::chrono_literals;
using test::FakePeer;
using test::FakeReply;

namespace {

// A tracker that answers LEAVE for `known` with OK and anything else not_found.
struct LeaveTracker {
  std::mutex mu;
  std::string asked;  // the last LEAVE query
  int leaves = 0;

  FakePeer::Handler handler(const std::string& known) {
    return [this, known](const codec::Envelope& env) {
      proto::QueryRequest req;
      if (env.cmd() != proto::Command::kLeave || !codec::decode(env.body, &req).ok())
        return FakeReply::error(ErrorCode::kBadRequest, "not a LEAVE");
      std::lock_guard lock(mu);
      asked = req.query;
      ++leaves;
      if (req.query != known) return FakeReply::error(ErrorCode::kNotFound, "no live peer " + req.query);
      return FakeReply{};
    };
  }
};

client::GlobalOptions to(const std::string& endpoint) {
  client::GlobalOptions g;
  g.tracker = endpoint;
  g.timeout = std::chrono::milliseconds(3000);
  return g;
}

}  // namespace

TEST_CASE("leave asks the tracker to drain the named peer and succeeds") {
  zmq::context_t ctx;
  LeaveTracker tracker;
  FakePeer fake(ctx, "inproc://leave-ok", tracker.handler("0123456789abcdef"));
  CHECK(client::run_leave(ctx, to("inproc://leave-ok"), "0123456789abcdef", false, 10s) == 0);
  CHECK(client::run_leave(ctx, to("inproc://leave-ok"), "0123456789abcdef", true, 10s) == 0);
  std::lock_guard lock(tracker.mu);
  CHECK(tracker.leaves == 2);
  CHECK(tracker.asked == "0123456789abcdef");
}

TEST_CASE("leave of an unknown peer exits with not found") {
  zmq::context_t ctx;
  LeaveTracker tracker;
  FakePeer fake(ctx, "inproc://leave-unknown", tracker.handler("0123456789abcdef"));
  CHECK(client::run_leave(ctx, to("inproc://leave-unknown"), "ffffffffffffffff", false, 10s) ==
        static_cast<int>(client::Exit::kNotFound));
  std::lock_guard lock(tracker.mu);
  CHECK(tracker.asked == "ffffffffffffffff");
}

TEST_CASE("leave with no tracker answering exits with tracker unreachable") {
  zmq::context_t ctx;
  client::GlobalOptions g = to("tcp://127.0.0.1:1");
  g.timeout = std::chrono::milliseconds(200);
  const auto start = Clock::now();
  CHECK(client::run_leave(ctx, g, "0123456789abcdef", false, 10s) ==
        static_cast<int>(client::Exit::kTrackerUnreachable));
  // Port 1: no connection ever comes up, so the tracker is not there, not
  // busy; asked again, it would go on until the 10 s budget.
  CHECK(Clock::now() - start < 5s);
}

TEST_CASE("a leave that a connected tracker leaves unanswered asks again and drains the peer") {
  zmq::context_t ctx;
  LeaveTracker tracker;
  std::atomic<int> asked{0};
  FakePeer::Handler answer = tracker.handler("0123456789abcdef");
  FakePeer fake(ctx, "tcp://127.0.0.1:*", [&](const codec::Envelope& env) {
    if (++asked == 1) return FakeReply::silence();  // the broker is busy
    return answer(env);
  });
  client::GlobalOptions g = to(fake.bound());
  g.timeout = std::chrono::milliseconds(300);
  g.quiet = true;
  CHECK(client::run_leave(ctx, g, "0123456789abcdef", false, 10s) == 0);
  CHECK(asked == 2);
  std::lock_guard lock(tracker.mu);
  CHECK(tracker.leaves == 1);
}
