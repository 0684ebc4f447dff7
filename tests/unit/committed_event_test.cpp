#include <catch2/catch.hpp>

#include <zmq.hpp>

#include "common/sha256.h"
#include "common/sockets.h"
#include "services/peer/committed_event.h"

using namespace p2p;

TEST_CASE("a committed-file event names its file id to the storage service") {
  zmq::context_t ctx;
  zmq::socket_t pull = make_socket(ctx, zmq::socket_type::pull, peer::kMaxCommittedEvent);
  pull.bind("inproc://committed-event-test");
  zmq::socket_t push = make_socket(ctx, zmq::socket_type::push, peer::kMaxCommittedEvent);
  push.connect("inproc://committed-event-test");
  const Hash id = sha256("file", 4);
  REQUIRE(peer::send_committed(push, id));
  zmq::message_t event;
  REQUIRE(pull.recv(event, zmq::recv_flags::none));
  std::optional<Hash> got = peer::committed_file(event);
  REQUIRE(got);
  CHECK(*got == id);
}

TEST_CASE("a message of any other size is no committed-file event") {
  for (std::size_t size : {std::size_t{0}, Hash::kSize - 1, Hash::kSize + 1}) {
    zmq::message_t msg(size);
    CHECK_FALSE(peer::committed_file(msg));
  }
}
