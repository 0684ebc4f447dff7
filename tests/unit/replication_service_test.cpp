#include <catch2/catch.hpp>

#include <optional>

#include "common/sockets.h"
#include "services/peer/replication_service.h"

using namespace p2p;
using namespace std::chrono_literals;

TEST_CASE("replication service refuses REPLICATE orders with unknown_command for now") {
  zmq::context_t ctx;
  zmq::socket_t router = make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage);
  router.bind("tcp://127.0.0.1:*");
  auto next = [&]() -> std::optional<codec::Envelope> {
    std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
    const auto deadline = Clock::now() + 5000ms;
    while (Clock::now() < deadline) {
      zmq::poll(items, until(deadline));
      codec::Envelope env;
      if (codec::recv_envelope(router, codec::Layout::kRouter, &env).ok() && env.cmd() != proto::Command::kHeartbeat)
        return env;
    }
    return std::nullopt;
  };

  ServiceLinkOptions link;
  link.tracker_endpoint = bound_endpoint(router);
  link.ready.peer_id = "00112233aabbccdd";
  link.heartbeat = 50ms;
  link.liveness = 100;  // this fake tracker never heartbeats: no reconnects mid-test
  peer::ReplicationService replication(ctx, link);
  replication.start();

  std::optional<codec::Envelope> ready = next();
  REQUIRE(ready);
  REQUIRE(ready->cmd() == proto::Command::kReady);
  proto::ReadyBody body;
  REQUIRE(codec::decode(ready->body, &body).ok());
  CHECK(body.service == "replication");

  proto::ReplicateOrder order;
  order.manifest = Manifest{"wanted.bin", 0, limits::kMinChunkSize, {}, 3};
  REQUIRE(codec::send_envelope(router, codec::Layout::kRouter, &ready->routing, proto::Command::kReplicate, 0,
                               codec::encode(order))
              .ok());
  std::optional<codec::Envelope> report = next();
  REQUIRE(report);
  REQUIRE(report->cmd() == proto::Command::kReplicated);
  proto::ReplicatedBody replicated;
  REQUIRE(codec::decode(report->body, &replicated).ok());
  CHECK(replicated.file_id == order.manifest.file_id());
  CHECK(replicated.code == static_cast<std::uint16_t>(ErrorCode::kUnknownCommand));
  CHECK_FALSE(replicated.message.empty());
  replication.stop();
  replication.join();
  router.close();
}
