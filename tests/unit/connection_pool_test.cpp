// ConnectionPool: reuse of holder connections across gets, and replacement
// of one whose holder went away while it sat idle.
#include <catch2/catch.hpp>

#include <memory>

#include "client/connection_pool.h"
#include "common/codec.h"
#include "fake_peer.h"

using namespace p2p;
using test::FakePeer;
using test::FakeReply;

namespace {

FakePeer::Handler answer_all() {
  return [](const codec::Envelope&) { return FakeReply{}; };
}

// One request and its reply over `conn`: proves the connection is up.
bool round_trip(HolderConnection& conn) {
  const std::uint64_t seq = conn.next_seq++;
  if (!codec::send_envelope(conn.socket, codec::Layout::kDealer, nullptr, proto::Command::kPing, seq,
                            codec::encode(proto::Empty{}), nullptr)
           .ok())
    return false;
  std::vector<zmq::pollitem_t> items{{conn.socket.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, std::chrono::milliseconds(5000));
  codec::Envelope env;
  return (items[0].revents & ZMQ_POLLIN) && codec::recv_envelope(conn.socket, codec::Layout::kDealer, &env).ok() &&
         env.seq == seq;
}

}  // namespace

TEST_CASE("a pooled connection is reused while its holder stays") {
  zmq::context_t ctx;
  FakePeer peer(ctx, "tcp://127.0.0.1:*", answer_all());
  const std::string endpoint = peer.bound();
  REQUIRE_FALSE(endpoint.empty());
  client::ConnectionPool pool(ctx);
  for (int i = 0; i < 3; ++i) {
    Result<HolderConnection*> conn = pool.acquire(endpoint);
    REQUIRE(conn.ok());
    CHECK(round_trip(*conn.value()));
    pool.release(endpoint, true);
  }
  CHECK(pool.opened() == 1);
}

TEST_CASE("a pooled connection whose holder went away while idle is replaced at acquire") {
  zmq::context_t ctx;
  auto peer = std::make_unique<FakePeer>(ctx, "tcp://127.0.0.1:*", answer_all());
  const std::string endpoint = peer->bound();
  REQUIRE_FALSE(endpoint.empty());
  client::ConnectionPool pool(ctx);
  Result<HolderConnection*> first = pool.acquire(endpoint);
  REQUIRE(first.ok());
  REQUIRE(round_trip(*first.value()));
  pool.release(endpoint, true);
  DisconnectWatch& watch = first.value()->watch;
  std::vector<zmq::pollitem_t> items{{watch.handle(), 0, ZMQ_POLLIN, 0}};
  REQUIRE(items[0].socket != nullptr);
  // Its handshake's event read first (bounded), so that the next event the
  // watch has is the close.
  const auto deadline = Clock::now() + std::chrono::milliseconds(5000);
  while (!watch.up() && Clock::now() < deadline) {
    zmq::poll(items, until(deadline));
    (void)watch.events();
  }
  REQUIRE(watch.up());

  peer.reset();  // the holder exits: its socket closes
  // Wait (bounded) until the idle connection's watch has the news.
  zmq::poll(items, std::chrono::milliseconds(5000));
  REQUIRE((items[0].revents & ZMQ_POLLIN) != 0);

  Result<HolderConnection*> second = pool.acquire(endpoint);
  REQUIRE(second.ok());
  CHECK(pool.opened() == 2);
  CHECK(pool.open_connections() == 1);
}
