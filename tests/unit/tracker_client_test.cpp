#include <catch2/catch.hpp>

#include <future>

#include "common/sockets.h"
#include "common/tracker_client.h"

using namespace p2p;

namespace {

constexpr auto kShort = std::chrono::milliseconds(200);
constexpr auto kLong = std::chrono::milliseconds(5000);

// A ROUTER in the test thread playing the tracker.
struct FakeTracker {
  zmq::context_t& ctx;
  zmq::socket_t router = make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage);
  explicit FakeTracker(zmq::context_t& c, const char* endpoint) : ctx(c) { router.bind(endpoint); }

  codec::Envelope receive() {
    std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, kLong);
    codec::Envelope env;
    REQUIRE(codec::recv_envelope(router, codec::Layout::kRouter, &env).ok());
    return env;
  }
  template <class T>
  void reply(const codec::Envelope& req, std::uint64_t seq, const T& body) {
    REQUIRE(codec::send_envelope(router, codec::Layout::kRouter, &req.routing, proto::Command::kOk, seq,
                                 codec::encode(body))
                .ok());
  }
};

// The client runs in its own thread: its socket is created and used there.
std::future<std::pair<Status, proto::StatusReply>> status_call(zmq::context_t& ctx, const char* endpoint,
                                                               std::chrono::milliseconds timeout) {
  return std::async(std::launch::async, [&ctx, endpoint, timeout] {
    TrackerClient client(ctx, endpoint, timeout);
    proto::StatusReply reply;
    Status s = client.call(proto::Command::kStatus, proto::Empty{}, &reply);
    return std::make_pair(s, reply);
  });
}

}  // namespace

TEST_CASE("tracker client times out when nobody serves the endpoint") {
  zmq::context_t ctx;
  TrackerClient client(ctx, "tcp://127.0.0.1:1", kShort);  // port 1: nothing listens
  proto::StatusReply reply;
  auto start = Clock::now();
  Status s = client.call(proto::Command::kStatus, proto::Empty{}, &reply);
  auto took = Clock::now() - start;
  CHECK(s.code() == ErrorCode::kTimeout);
  CHECK_THAT(s.message(), Catch::Contains("tcp://127.0.0.1:1"));
  CHECK(took >= kShort);
  CHECK(took < kShort + std::chrono::milliseconds(1000));
  // A second call times out the same way: no leftovers from the first.
  CHECK(client.call(proto::Command::kStatus, proto::Empty{}, &reply).code() == ErrorCode::kTimeout);
}

TEST_CASE("tracker client matches the reply by seq and drops stale ones") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx, "inproc://tracker-seq");
  auto call = status_call(ctx, "inproc://tracker-seq", kLong);
  codec::Envelope req = tracker.receive();
  CHECK(req.cmd() == proto::Command::kStatus);
  proto::StatusReply stale;
  stale.peers = 99;
  tracker.reply(req, req.seq + 1000, stale);  // a late answer to some other request
  proto::StatusReply fresh;
  fresh.peers = 7;
  tracker.reply(req, req.seq, fresh);
  auto [status, reply] = call.get();
  REQUIRE(status.ok());
  CHECK(reply.peers == 7);
}

TEST_CASE("tracker client turns an ERROR reply into its status") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx, "inproc://tracker-error");
  auto call = status_call(ctx, "inproc://tracker-error", kLong);
  codec::Envelope req = tracker.receive();
  REQUIRE(codec::send_error(tracker.router, codec::Layout::kRouter, req, {ErrorCode::kNotFound, "no file named x"})
              .ok());
  auto [status, reply] = call.get();
  CHECK(status.code() == ErrorCode::kNotFound);
  CHECK(status.message() == "no file named x");
}

TEST_CASE("tracker client reports an undecodable reply as a bad request") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx, "inproc://tracker-garbage");
  auto call = status_call(ctx, "inproc://tracker-garbage", kLong);
  codec::Envelope req = tracker.receive();
  tracker.reply(req, req.seq, std::string("not a status reply"));
  auto [status, reply] = call.get();
  CHECK(status.code() == ErrorCode::kBadRequest);
}
