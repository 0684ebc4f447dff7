#include <catch2/catch.hpp>

#include <optional>

#include "common/service_link.h"
#include "common/sockets.h"

using namespace p2p;
using namespace std::chrono_literals;

namespace {

// A fake tracker: a ROUTER in the test thread. The link lives in the same
// thread, so next() pumps both until the tracker receives something.
struct FakeTracker {
  zmq::context_t ctx;
  zmq::socket_t router = make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage);
  std::string endpoint;
  LinkEvents seen;  // everything the link reported, accumulated

  FakeTracker() {
    router.bind("tcp://127.0.0.1:*");
    endpoint = bound_endpoint(router);
  }

  ServiceLinkOptions options(std::chrono::milliseconds heartbeat = 50ms, int liveness = 3) {
    ServiceLinkOptions o;
    o.tracker_endpoint = endpoint;
    o.ready.peer_id = "0123456789abcdef";
    o.ready.service = proto::kServiceStorage;
    o.ready.endpoint = "tcp://127.0.0.1:7000";
    o.ready.capacity = 1000;
    o.heartbeat = heartbeat;
    o.liveness = liveness;
    o.free_bytes = [] { return std::uint64_t{700}; };
    return o;
  }

  void pump(ServiceLink& link, std::vector<zmq::pollitem_t>& items, std::chrono::milliseconds max_wait) {
    items = {{router.handle(), 0, ZMQ_POLLIN, 0}, {link.socket().handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, std::min(until(link.next_deadline()), max_wait));
    LinkEvents ev = link.process(items[1].revents & ZMQ_POLLIN);
    seen.rejoined = seen.rejoined || ev.rejoined;
    for (auto& c : ev.commands) seen.commands.push_back(std::move(c));
  }

  // The next message the tracker receives, or nullopt after `timeout`.
  std::optional<codec::Envelope> next(ServiceLink& link, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = Clock::now() + timeout;
    std::vector<zmq::pollitem_t> items;
    while (Clock::now() < deadline) {
      pump(link, items, 10ms);
      codec::Envelope env;
      if (codec::recv_envelope(router, codec::Layout::kRouter, &env).ok()) return env;
    }
    return std::nullopt;
  }

  // Pumps until the tracker receives `command` (skipping others).
  std::optional<codec::Envelope> next_of(ServiceLink& link, proto::Command command) {
    const auto deadline = Clock::now() + 3000ms;
    while (Clock::now() < deadline) {
      std::optional<codec::Envelope> env = next(link, until(deadline));
      if (env && env->cmd() == command) return env;
    }
    return std::nullopt;
  }

  // Pumps the link until `done()` or the deadline; returns done().
  template <class F>
  bool pump_until(ServiceLink& link, F done, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = Clock::now() + timeout;
    std::vector<zmq::pollitem_t> items;
    while (!done() && Clock::now() < deadline) pump(link, items, 10ms);
    return done();
  }

  void send(const codec::Envelope& to, proto::Command command, zmq::message_t body) {
    REQUIRE(codec::send_envelope(router, codec::Layout::kRouter, &to.routing, command, 0, std::move(body)).ok());
  }
};

std::string routing_id(const codec::Envelope& env) { return env.routing.at(0).to_string(); }

}  // namespace

TEST_CASE("service link sends READY with its registration") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options());
  std::optional<codec::Envelope> ready = tracker.next(link);
  REQUIRE(ready);
  REQUIRE(ready->cmd() == proto::Command::kReady);
  proto::ReadyBody body;
  REQUIRE(codec::decode(ready->body, &body).ok());
  CHECK(body.peer_id == "0123456789abcdef");
  CHECK(body.service == "storage");
  CHECK(body.endpoint == "tcp://127.0.0.1:7000");
  CHECK(body.capacity == 1000);
  CHECK(body.free_bytes == 700);
}

TEST_CASE("idle service link heartbeats with its free bytes") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options(50ms, 100));
  REQUIRE(tracker.next_of(link, proto::Command::kReady));
  for (int i = 0; i < 3; ++i) {
    std::optional<codec::Envelope> hb = tracker.next(link);
    REQUIRE(hb);
    REQUIRE(hb->cmd() == proto::Command::kHeartbeat);
    proto::HeartbeatBody body;
    REQUIRE(codec::decode(hb->body, &body).ok());
    CHECK(body.free_bytes == 700);
  }
  CHECK(link.connections() == 1);
}

TEST_CASE("first tracker message reports the join and commands reach the owner") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options());
  std::optional<codec::Envelope> ready = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(ready);
  CHECK_FALSE(tracker.seen.rejoined);
  tracker.send(*ready, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  REQUIRE(tracker.pump_until(link, [&] { return tracker.seen.rejoined; }));

  proto::ReplicateOrder order;
  order.manifest.name = "a.txt";
  tracker.send(*ready, proto::Command::kReplicate, codec::encode(order));
  REQUIRE(tracker.pump_until(link, [&] { return !tracker.seen.commands.empty(); }));
  CHECK(tracker.seen.commands[0].cmd() == proto::Command::kReplicate);
}

TEST_CASE("DISCONNECT makes the service rejoin with READY from a new routing id") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options());
  std::optional<codec::Envelope> first = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(first);
  tracker.send(*first, proto::Command::kDisconnect, codec::encode(proto::Empty{}));
  std::optional<codec::Envelope> second = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(second);
  CHECK(routing_id(*second) != routing_id(*first));
  CHECK(link.connections() == 2);
  // The new connection counts as a join once the tracker answers on it.
  tracker.seen.rejoined = false;
  tracker.send(*second, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  CHECK(tracker.pump_until(link, [&] { return tracker.seen.rejoined; }));
}

TEST_CASE("silent tracker makes the service reconnect with READY") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options(30ms, 3));
  std::optional<codec::Envelope> first = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(first);
  // The tracker never answers: after 3 x 30 ms the link opens a new socket.
  std::optional<codec::Envelope> second = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(second);
  CHECK(routing_id(*second) != routing_id(*first));
  CHECK_FALSE(tracker.seen.rejoined);
}

TEST_CASE("answered heartbeats keep the link on one connection", "[timing]") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options(20ms, 5));
  std::optional<codec::Envelope> ready = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(ready);
  // Answer every heartbeat for well over a liveness window.
  const auto end = Clock::now() + 300ms;
  int heartbeats = 0;
  while (Clock::now() < end) {
    std::optional<codec::Envelope> msg = tracker.next(link, 100ms);
    if (msg && msg->cmd() == proto::Command::kHeartbeat) {
      ++heartbeats;
      tracker.send(*msg, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
    }
  }
  CHECK(heartbeats >= 5);
  CHECK(link.connections() == 1);
}

TEST_CASE("leave sends DISCONNECT") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options());
  std::optional<codec::Envelope> ready = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(ready);
  link.leave();
  std::vector<zmq::pollitem_t> items{{tracker.router.handle(), 0, ZMQ_POLLIN, 0}};
  const auto deadline = Clock::now() + 3000ms;
  std::optional<proto::Command> got;
  while (!got && Clock::now() < deadline) {
    zmq::poll(items, until(deadline));
    codec::Envelope env;
    if (codec::recv_envelope(tracker.router, codec::Layout::kRouter, &env).ok() &&
        env.cmd() != proto::Command::kHeartbeat)
      got = env.cmd();
  }
  REQUIRE(got);
  CHECK(*got == proto::Command::kDisconnect);
}

TEST_CASE("heartbeat carries the copies the owner reports") {
  FakeTracker tracker;
  ServiceLinkOptions o = tracker.options(30ms, 100);
  o.ready.service = proto::kServiceReplication;
  o.free_bytes = nullptr;
  std::uint32_t copies = 2;
  o.copies = [&] { return copies; };
  ServiceLink link(tracker.ctx, o);
  REQUIRE(tracker.next_of(link, proto::Command::kReady));
  std::optional<codec::Envelope> hb = tracker.next_of(link, proto::Command::kHeartbeat);
  REQUIRE(hb);
  proto::HeartbeatBody body;
  REQUIRE(codec::decode(hb->body, &body).ok());
  CHECK(body.copies == 2);
  CHECK(body.free_bytes == 0);
}

TEST_CASE("link counts as joined only once the tracker answers on the current socket") {
  FakeTracker tracker;
  ServiceLink link(tracker.ctx, tracker.options());
  std::optional<codec::Envelope> ready = tracker.next_of(link, proto::Command::kReady);
  REQUIRE(ready);
  CHECK_FALSE(link.joined());
  tracker.send(*ready, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  REQUIRE(tracker.pump_until(link, [&] { return link.joined(); }));
  tracker.send(*ready, proto::Command::kDisconnect, codec::encode(proto::Empty{}));
  REQUIRE(tracker.pump_until(link, [&] { return link.connections() == 2; }));
  CHECK_FALSE(link.joined());
  link.leave();
  CHECK_FALSE(link.joined());
}
