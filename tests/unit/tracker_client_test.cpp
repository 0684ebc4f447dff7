#include <catch2/catch.hpp>

#include <future>
#include <optional>
#include <string>
#include <thread>

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

// A tracker on a TCP port that can go away and come back on the same port,
// as a killed and restarted one does.
struct RestartingTracker {
  zmq::context_t& ctx;
  std::string endpoint;
  std::optional<FakeTracker> current;
  explicit RestartingTracker(zmq::context_t& c) : ctx(c) {
    current.emplace(ctx, "tcp://127.0.0.1:*");
    endpoint = current->router.get(zmq::sockopt::last_endpoint);
  }
  // Closes the tracker's socket, which closes the client's connection.
  void stop() {
    current->router.set(zmq::sockopt::linger, 0);
    current.reset();
  }
  // Binds the same port again; libzmq may take a moment to release it.
  void start() {
    const auto deadline = Clock::now() + kLong;
    while (true) {
      try {
        current.emplace(ctx, endpoint.c_str());
        return;
      } catch (const zmq::error_t&) {
        REQUIRE(Clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // paces the retries of bind
      }
    }
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
  CHECK_THAT(s.message(), Catch::Contains("is it running?"));
  CHECK_FALSE(client.busy());  // not there, rather than busy: callers do not ask again
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

TEST_CASE("a request whose connection to the tracker closes unanswered is sent again and answered by the restarted "
          "tracker") {
  zmq::context_t ctx;
  RestartingTracker tracker(ctx);
  auto call = status_call(ctx, tracker.endpoint.c_str(), kLong);
  const codec::Envelope lost = tracker.current->receive();
  tracker.stop();  // killed with the request unanswered
  tracker.start();
  const codec::Envelope again = tracker.current->receive();
  CHECK(again.cmd() == proto::Command::kStatus);
  CHECK(again.seq == lost.seq);
  proto::StatusReply answer;
  answer.peers = 4;
  tracker.current->reply(again, again.seq, answer);
  auto [status, reply] = call.get();  // before the timeout: without the resend it would be kTimeout
  REQUIRE(status.ok());
  CHECK(reply.peers == 4);
}

TEST_CASE("a tracker that drops every connection gets a request at most 1 + kMaxResends times") {
  zmq::context_t ctx;
  RestartingTracker tracker(ctx);
  auto call = status_call(ctx, tracker.endpoint.c_str(), std::chrono::milliseconds(1500));
  int received = 0;
  while (true) {
    std::vector<zmq::pollitem_t> items{{tracker.current->router.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, std::chrono::milliseconds(2500));
    if (!(items[0].revents & ZMQ_POLLIN)) break;  // the client gave up
    codec::Envelope env;
    REQUIRE(codec::recv_envelope(tracker.current->router, codec::Layout::kRouter, &env).ok());
    ++received;
    tracker.stop();
    tracker.start();
  }
  auto [status, reply] = call.get();
  CHECK(status.code() == ErrorCode::kTimeout);
  CHECK(received == 1 + TrackerClient::kMaxResends);
}

TEST_CASE("a tracker connected but silent times out as busy, and an answer to the next request clears it") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx, "tcp://127.0.0.1:*");
  const std::string endpoint = tracker.router.get(zmq::sockopt::last_endpoint);
  struct Outcome {
    Status first, second;
    bool busy_after_first = false, busy_after_second = true;
  };
  auto calls = std::async(std::launch::async, [&ctx, endpoint] {
    TrackerClient client(ctx, endpoint, kShort);
    Outcome o;
    proto::StatusReply reply;
    o.first = client.call(proto::Command::kStatus, proto::Empty{}, &reply);
    o.busy_after_first = client.busy();
    o.second = client.call(proto::Command::kStatus, proto::Empty{}, &reply);
    o.busy_after_second = client.busy();
    return o;
  });
  const codec::Envelope unanswered = tracker.receive();  // the broker is busy: no reply
  const codec::Envelope asked_again = tracker.receive();  // after the client's timeout, on a new connection
  CHECK(asked_again.seq != unanswered.seq);
  tracker.reply(asked_again, asked_again.seq, proto::StatusReply{});
  const Outcome o = calls.get();
  CHECK(o.first.code() == ErrorCode::kTimeout);
  CHECK_THAT(o.first.message(), Catch::Contains("is connected but sent no reply"));
  CHECK(o.busy_after_first);
  CHECK(o.second.ok());
  CHECK_FALSE(o.busy_after_second);
}

TEST_CASE("a tracker that answered and then went away times out as not there, not as busy") {
  zmq::context_t ctx;
  RestartingTracker tracker(ctx);
  std::promise<void> stopped;
  auto calls = std::async(std::launch::async, [&ctx, &tracker, done = stopped.get_future()]() mutable {
    TrackerClient client(ctx, tracker.endpoint, kShort);
    proto::StatusReply reply;
    const Status first = client.call(proto::Command::kStatus, proto::Empty{}, &reply);
    done.wait();
    const Status second = client.call(proto::Command::kStatus, proto::Empty{}, &reply);
    return std::make_tuple(first, second, client.busy());
  });
  const codec::Envelope req = tracker.current->receive();
  tracker.current->reply(req, req.seq, proto::StatusReply{});
  tracker.stop();  // the connection that was up closes; nothing listens any more
  stopped.set_value();
  const auto [first, second, busy] = calls.get();
  CHECK(first.ok());
  CHECK(second.code() == ErrorCode::kTimeout);
  CHECK_THAT(second.message(), Catch::Contains("is it running?"));
  CHECK_FALSE(busy);
}
