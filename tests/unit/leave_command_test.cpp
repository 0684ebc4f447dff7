#include <catch2/catch.hpp>

#include <mutex>
#include <string>

#include "client/exit_codes.h"
#include "client/leave_command.h"
#include "fake_peer.h"

using namespace p2p;
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
  CHECK(client::run_leave(ctx, to("inproc://leave-ok"), "0123456789abcdef", false) == 0);
  CHECK(client::run_leave(ctx, to("inproc://leave-ok"), "0123456789abcdef", true) == 0);
  std::lock_guard lock(tracker.mu);
  CHECK(tracker.leaves == 2);
  CHECK(tracker.asked == "0123456789abcdef");
}

TEST_CASE("leave of an unknown peer exits with not found") {
  zmq::context_t ctx;
  LeaveTracker tracker;
  FakePeer fake(ctx, "inproc://leave-unknown", tracker.handler("0123456789abcdef"));
  CHECK(client::run_leave(ctx, to("inproc://leave-unknown"), "ffffffffffffffff", false) ==
        static_cast<int>(client::Exit::kNotFound));
  std::lock_guard lock(tracker.mu);
  CHECK(tracker.asked == "ffffffffffffffff");
}

TEST_CASE("leave with no tracker answering exits with tracker unreachable") {
  zmq::context_t ctx;
  client::GlobalOptions g = to("tcp://127.0.0.1:1");
  g.timeout = std::chrono::milliseconds(200);
  CHECK(client::run_leave(ctx, g, "0123456789abcdef", false) == static_cast<int>(client::Exit::kTrackerUnreachable));
}
