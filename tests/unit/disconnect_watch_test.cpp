// DisconnectWatch (common/disconnect_watch.h): what it tells the thread that
// owns a watched tcp connection, read against a deadline.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>

#include "common/disconnect_watch.h"
#include "common/limits.h"
#include "common/sockets.h"

using namespace p2p;
using namespace std::chrono_literals;

namespace {

// Reads the watch's events until `done` holds or 5 s pass; whether it held.
bool read_until(DisconnectWatch& watch, const std::function<bool(const DisconnectWatch::Events&)>& done) {
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline) {
    std::vector<zmq::pollitem_t> items{{watch.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, until(deadline));
    if (done(watch.events())) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a watched connection is up once its handshake is done, and down once it closes") {
  zmq::context_t ctx;
  std::optional<zmq::socket_t> router(make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage));
  router->bind("tcp://127.0.0.1:*");
  zmq::socket_t dealer = make_socket(ctx, zmq::socket_type::dealer, limits::kMaxControlMessage);
  DisconnectWatch watch = connect_watched(ctx, dealer, bound_endpoint(*router));
  CHECK_FALSE(watch.up());  // nothing read yet
  REQUIRE(read_until(watch, [&](const DisconnectWatch::Events&) { return watch.up(); }));

  router->set(zmq::sockopt::linger, 0);
  router.reset();  // the other end goes away, as a killed process's sockets do
  bool closed = false;
  REQUIRE(read_until(watch, [&](const DisconnectWatch::Events& e) { return closed = closed || e.closed; }));
  CHECK_FALSE(watch.up());
}

TEST_CASE("a watched connection that nobody answers is refused and never up") {
  zmq::context_t ctx;
  zmq::socket_t dealer = make_socket(ctx, zmq::socket_type::dealer, limits::kMaxControlMessage);
  DisconnectWatch watch = connect_watched(ctx, dealer, "tcp://127.0.0.1:1");  // port 1: nothing listens
  REQUIRE(read_until(watch, [](const DisconnectWatch::Events& e) { return e.refused; }));
  CHECK_FALSE(watch.up());
}

TEST_CASE("a watch of an inproc connection reports nothing and is never up") {
  zmq::context_t ctx;
  zmq::socket_t router = make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage);
  router.bind("inproc://watch-inproc");
  zmq::socket_t dealer = make_socket(ctx, zmq::socket_type::dealer, limits::kMaxControlMessage);
  DisconnectWatch watch = connect_watched(ctx, dealer, "inproc://watch-inproc");
  CHECK(watch.handle() == nullptr);
  const DisconnectWatch::Events e = watch.events();
  CHECK_FALSE(e.closed);
  CHECK_FALSE(e.refused);
  CHECK_FALSE(watch.up());
}
