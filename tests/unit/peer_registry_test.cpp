#include <catch2/catch.hpp>

#include "services/tracker/peer_registry.h"

using namespace p2p;
using namespace p2p::tracker;
using namespace std::chrono_literals;

namespace {

const auto kExpiry = 3000ms;
const TimePoint t0 = TimePoint{} + 1h;  // an arbitrary, injected "now"

proto::ReadyBody ready_body(const std::string& peer, const char* service, std::uint64_t free_bytes = 500) {
  return proto::ReadyBody{peer, service, "tcp://127.0.0.1:7000", 1000, free_bytes};
}

}  // namespace

TEST_CASE("peer is live once its storage service is ready") {
  PeerRegistry reg(kExpiry);
  auto transfer = reg.ready("r-transfer", ready_body("p1", proto::kServiceTransfer), t0);
  REQUIRE(transfer.ok());
  CHECK_FALSE(transfer->peer_live);
  CHECK_FALSE(reg.is_live("p1"));

  auto storage = reg.ready("r-storage", ready_body("p1", proto::kServiceStorage), t0);
  REQUIRE(storage.ok());
  CHECK(storage->peer_live);
  CHECK(reg.is_live("p1"));
  REQUIRE(reg.peer("p1") != nullptr);
  CHECK(reg.peer("p1")->free_bytes == 500);
  CHECK(reg.peer("p1")->services.size() == 2);
  REQUIRE(reg.find("r-storage") != nullptr);
  CHECK(reg.find("r-storage")->service == proto::kServiceStorage);
  CHECK(reg.routings().size() == 2);
}

TEST_CASE("ready with bad fields is refused") {
  PeerRegistry reg(kExpiry);
  CHECK(reg.ready("r", ready_body("p1", "bogus"), t0).status().code() == ErrorCode::kBadRequest);
  CHECK(reg.ready("r", ready_body("", proto::kServiceStorage), t0).status().code() == ErrorCode::kBadRequest);
  CHECK(reg.ready("r", ready_body(std::string(65, 'x'), proto::kServiceStorage), t0).status().code() ==
        ErrorCode::kBadRequest);
  auto no_endpoint = ready_body("p1", proto::kServiceStorage);
  no_endpoint.endpoint.clear();
  CHECK(reg.ready("r", no_endpoint, t0).status().code() == ErrorCode::kBadRequest);
  CHECK(reg.peers().empty());
}

TEST_CASE("second ready on one connection is refused") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r", ready_body("p1", proto::kServiceStorage), t0).ok());
  CHECK(reg.ready("r", ready_body("p1", proto::kServiceStorage), t0).status().code() == ErrorCode::kBadRequest);
}

TEST_CASE("peer that misses heartbeats leaves the registry") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r-storage", ready_body("p1", proto::kServiceStorage), t0).ok());
  REQUIRE(reg.ready("r-transfer", ready_body("p1", proto::kServiceTransfer), t0).ok());
  CHECK(reg.next_expiry() == t0 + kExpiry);

  // The transfer service keeps talking; storage goes silent.
  CHECK(reg.touch("r-transfer", t0 + 2000ms));
  CHECK(reg.expire(t0 + 2999ms).empty());
  CHECK(reg.is_live("p1"));

  auto gone = reg.expire(t0 + 3000ms);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].peer_id == "p1");
  CHECK(gone[0].service == proto::kServiceStorage);
  CHECK(gone[0].peer_gone);
  CHECK_FALSE(reg.is_live("p1"));
  CHECK(reg.find("r-storage") == nullptr);
  CHECK(reg.next_expiry() == t0 + 2000ms + kExpiry);

  // Once its last service is gone the peer record goes too.
  auto rest = reg.expire(t0 + 5000ms);
  REQUIRE(rest.size() == 1);
  CHECK_FALSE(rest[0].peer_gone);
  CHECK(reg.peers().empty());
  CHECK(reg.next_expiry() == TimePoint::max());
}

TEST_CASE("heartbeats keep a peer alive past the expiry window") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r", ready_body("p1", proto::kServiceStorage), t0).ok());
  for (auto t = t0 + 1000ms; t < t0 + 10000ms; t += 1000ms) {
    CHECK(reg.touch("r", t));
    CHECK(reg.expire(t).empty());
  }
  CHECK(reg.is_live("p1"));
  CHECK_FALSE(reg.touch("unknown", t0));
}

TEST_CASE("time the tracker was busy is not counted as a service's silence") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r-a", ready_body("p1", proto::kServiceStorage), t0).ok());
  REQUIRE(reg.ready("r-b", ready_body("p2", proto::kServiceStorage), t0).ok());

  // A 2.5 s pass: a and b's heartbeats wait in the socket meanwhile.
  reg.excuse(2500ms);
  CHECK(reg.expire(t0 + 5499ms).empty());
  CHECK(reg.is_live("p1"));
  CHECK(reg.is_live("p2"));
  CHECK(reg.next_expiry() == t0 + kExpiry + 2500ms);

  // a's queued heartbeat is read; b stays silent after the pass and expires
  // once its silence outside the pass reaches the window.
  CHECK(reg.touch("r-a", t0 + 5400ms));
  auto gone = reg.expire(t0 + 5500ms);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].peer_id == "p2");

  // An excuse before a's last message does not lengthen its next window.
  CHECK(reg.next_expiry() == t0 + 5400ms + kExpiry);
  CHECK(reg.expire(t0 + 8399ms).empty());
  CHECK(reg.expire(t0 + 8400ms).size() == 1);
}

TEST_CASE("storage ready on a new connection means the peer restarted") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("old", ready_body("p1", proto::kServiceStorage), t0).ok());
  auto again = reg.ready("new", ready_body("p1", proto::kServiceStorage, 123), t0 + 1s);
  REQUIRE(again.ok());
  CHECK(again->restarted);
  CHECK_FALSE(again->peer_live);  // it never stopped being live
  CHECK(reg.find("old") == nullptr);
  CHECK(reg.find("new") != nullptr);
  CHECK(reg.peer("p1")->free_bytes == 123);
}

TEST_CASE("removing the storage service makes the peer not live") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r", ready_body("p1", proto::kServiceStorage), t0).ok());
  auto d = reg.remove("r");
  REQUIRE(d.has_value());
  CHECK(d->peer_gone);
  CHECK_FALSE(reg.is_live("p1"));
  CHECK_FALSE(reg.remove("r").has_value());
}

TEST_CASE("storage heartbeat updates free bytes") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r", ready_body("p1", proto::kServiceStorage), t0).ok());
  reg.set_free_bytes("p1", 42);
  CHECK(reg.peer("p1")->free_bytes == 42);
  REQUIRE(reg.live_peers().size() == 1);
  CHECK(reg.live_peers()[0]->peer_id == "p1");
}

TEST_CASE("draining peer stays live and is counted out of the non-draining") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("s1", ready_body("p1", proto::kServiceStorage), t0).ok());
  REQUIRE(reg.ready("s2", ready_body("p2", proto::kServiceStorage), t0 + 1s).ok());
  CHECK(reg.peer("p2")->live_since == t0 + 1s);
  CHECK(reg.live_non_draining() == 2);
  CHECK(reg.set_draining("p1"));
  CHECK(reg.peer("p1")->draining);
  CHECK(reg.is_live("p1"));
  CHECK(reg.live_non_draining() == 1);
  CHECK_FALSE(reg.set_draining("nobody"));
}

TEST_CASE("draining ends when the storage service goes or registers again") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("s", ready_body("p1", proto::kServiceStorage), t0).ok());
  REQUIRE(reg.ready("t", ready_body("p1", proto::kServiceTransfer), t0).ok());
  REQUIRE(reg.set_draining("p1"));
  auto again = reg.ready("s-new", ready_body("p1", proto::kServiceStorage), t0 + 2s);
  REQUIRE(again.ok());
  CHECK(again->restarted);
  CHECK_FALSE(reg.peer("p1")->draining);  // a restarted peer says DRAIN again if it still leaves
  CHECK(reg.peer("p1")->live_since == t0 + 2s);

  REQUIRE(reg.set_draining("p1"));
  REQUIRE(reg.remove("s-new").has_value());
  REQUIRE(reg.peer("p1") != nullptr);  // transfer still registered
  CHECK_FALSE(reg.peer("p1")->draining);
  CHECK_FALSE(reg.set_draining("p1"));  // not live
}

TEST_CASE("space reserved by a placement counts until the next heartbeat reports free bytes") {
  PeerRegistry reg(kExpiry);
  REQUIRE(reg.ready("r-storage", ready_body("p1", proto::kServiceStorage, 500), t0).ok());
  reg.reserve_space("p1", 200);
  CHECK(reg.peer("p1")->free_bytes == 300);
  reg.reserve_space("p1", 1000);  // never below zero
  CHECK(reg.peer("p1")->free_bytes == 0);
  reg.set_free_bytes("p1", 450);  // the heartbeat's real figure wins
  CHECK(reg.peer("p1")->free_bytes == 450);
}

TEST_CASE("registry version moves on joins, drains and departures, not on heartbeats") {
  PeerRegistry reg(kExpiry);
  std::uint64_t v = reg.version();
  auto moved = [&] {
    const bool m = reg.version() != v;
    v = reg.version();
    return m;
  };
  REQUIRE(reg.ready("r-storage", ready_body("p1", proto::kServiceStorage), t0).ok());
  CHECK(moved());
  REQUIRE(reg.ready("r-repl", ready_body("p1", proto::kServiceReplication), t0).ok());
  CHECK(moved());

  CHECK(reg.touch("r-storage", t0 + 1000ms));
  reg.set_free_bytes("p1", 42);
  reg.reserve_space("p1", 10);
  CHECK_FALSE(moved());

  REQUIRE(reg.set_draining("p1"));
  CHECK(moved());
  REQUIRE(reg.set_draining("p1"));  // already draining: nothing changed
  CHECK_FALSE(moved());

  CHECK(reg.expire(t0 + 1000ms).empty());
  CHECK_FALSE(moved());
  REQUIRE(reg.remove("r-repl").has_value());
  CHECK(moved());
  CHECK(reg.expire(t0 + 1000ms + kExpiry).size() == 1);
  CHECK(moved());
}
