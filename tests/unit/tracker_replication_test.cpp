// The tracker broker's replication side over the wire: fake peer services
// (DEALER sockets) receive REPLICATE, DELETE, DRAIN and RELEASE and answer
// with REPLICATED and REMOVED. Every wait polls against a deadline.
#include "tracker_harness.h"

#include <algorithm>
#include <set>

using namespace p2p;
using namespace p2p::tracker_test;
using namespace std::chrono_literals;
using proto::Command;

namespace {

// Ticks every 20 ms; nothing expires during a test (liveness 200 x 20 ms =
// 4 s > kPatience) unless a service says DISCONNECT.
constexpr auto kFastHeartbeat = 20ms;
constexpr int kLongLiveness = 200;
constexpr auto kGrace = 300ms;  // also the safe mode after start
constexpr auto kQuiet = 200ms;  // ten ticks: long enough for an order that would come
// The grace of the cases that pace announcements 100 ms apart: 10x the pace,
// so a loaded host (sanitizers, ctest -j2 on 2 cores) does not stall a gap
// past it; kGrace (3x) was overrun once under ASan.
constexpr auto kPacedGrace = 1000ms;

tracker::TrackerOptions replication_options(std::uint32_t replicas) {
  tracker::TrackerOptions o = options(kFastHeartbeat, kLongLiveness);
  o.replicas = replicas;
  o.repair_grace = kGrace;
  o.max_copies_per_peer = 2;
  o.copy_timeout = 60s;
  return o;
}

// replication_options, with a grace that outlasts paced announcements.
tracker::TrackerOptions paced_options(std::uint32_t replicas) {
  tracker::TrackerOptions o = replication_options(replicas);
  o.repair_grace = kPacedGrace;
  return o;
}

// A peer with a storage and a replication service, each on its own connection.
struct FakePeer {
  Service storage;
  Service replication;
  FakePeer(zmq::context_t& ctx, const std::string& endpoint, const std::string& id, std::uint64_t free_bytes)
      : storage(ctx, endpoint, id, proto::kServiceStorage, free_bytes),
        replication(ctx, endpoint, id, proto::kServiceReplication, 0) {}
};

template <class T>
T body_of(const codec::Envelope& env) {
  T body;
  REQUIRE(codec::decode(env.body, &body).ok());
  return body;
}

// Sorted ids of the file's live holders; none while the file is not indexed yet.
std::vector<std::string> holder_ids(Dealer& client, const std::string& name) {
  auto stat = client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{name});
  std::vector<std::string> out;
  if (!stat.ok()) return out;
  for (const auto& h : stat->holders) out.push_back(h.peer_id);
  std::sort(out.begin(), out.end());
  return out;
}

// `empty` announces in full that it holds nothing, `holder` that it holds
// `m`, and the tracker lists `holder` as the one holder of `m`.
void announce_sole_holder(FakePeer& holder, FakePeer& empty, Dealer& client, const Manifest& m) {
  empty.storage.announce({}, true);
  holder.storage.announce({m}, true);
  REQUIRE(eventually([&] { return holder_ids(client, m.name).size() == 1; }));
}

// The files of the REPLICATE orders `replication` receives within `wait`.
std::set<Hash> copies_ordered(Service& replication, std::chrono::milliseconds wait) {
  std::set<Hash> copied;
  const auto until = Clock::now() + wait;
  while (Clock::now() < until)
    if (auto order = replication.recv_command(Command::kReplicate, 20ms))
      copied.insert(body_of<proto::ReplicateOrder>(*order).manifest.file_id());
  return copied;
}

proto::StatusReply status_of(Dealer& client) {
  auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
  REQUIRE(status.ok());
  return status.value();
}

// What PEERS says of peer `id`, which it must list.
proto::PeerSummary summary_of(Dealer& client, const std::string& id) {
  auto peers = client.call<proto::PeersReply>(Command::kPeers, proto::Empty{});
  REQUIRE(peers.ok());
  auto it = std::find_if(peers->peers.begin(), peers->peers.end(),
                         [&](const proto::PeerSummary& p) { return p.peer_id == id; });
  REQUIRE(it != peers->peers.end());
  return *it;
}

// k = 2 and three peers: "doc" held by peer-1 and peer-2, peer-3 (the
// emptiest) free to take a copy, and a client to ask the tracker.
struct TwoHoldersOfThree {
  RunningBroker t{replication_options(2)};
  FakePeer a{t.ctx, t.endpoint, "peer-1", 5000};
  FakePeer b{t.ctx, t.endpoint, "peer-2", 5000};
  FakePeer c{t.ctx, t.endpoint, "peer-3", 9000};
  Dealer client{t.ctx, t.endpoint};
  Manifest m = fake_manifest("doc", 1000);

  TwoHoldersOfThree() {
    a.storage.announce({m});
    b.storage.announce({m});
    REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 2; }));
  }
};

}  // namespace

TEST_CASE("dead holder's file is copied to a live peer after the grace and REPLICATED makes it a holder", "[timing]") {
  TwoHoldersOfThree net;

  const auto lost_at = Clock::now();
  net.b.storage.send(Command::kDisconnect, proto::Empty{});  // b's storage goes: a loss
  auto order_env = net.c.replication.recv_command(Command::kReplicate);
  REQUIRE(order_env.has_value());
  CHECK(Clock::now() - lost_at >= kGrace);  // not before the repair grace
  const auto order = body_of<proto::ReplicateOrder>(*order_env);
  CHECK(order.manifest.file_id() == net.m.file_id());
  REQUIRE(order.sources.size() == 1);
  CHECK(order.sources[0].peer_id == "peer-1");
  CHECK(order.sources[0].endpoint == "tcp://127.0.0.1:7100");

  CHECK(status_of(net.client).copies == 1);
  CHECK(summary_of(net.client, "peer-3").copies == 1);

  net.c.replication.send(Command::kReplicated, proto::ReplicatedBody{net.m.file_id(), 0, ""});
  REQUIRE(eventually([&] { return holder_ids(net.client, "doc") == std::vector<std::string>{"peer-1", "peer-3"}; }));
  const proto::StatusReply after = status_of(net.client);
  CHECK(after.copies == 0);
  CHECK(after.under_replicated == 0);
  // Whole again: no further order within a few ticks.
  CHECK_FALSE(net.c.replication.recv_command(Command::kReplicate, kQuiet).has_value());
}

TEST_CASE("safe mode holds while a peer announces and ends once the index is complete, long before the repair grace",
          "[timing]") {
  // A minute of grace: any order within this test comes from the early end.
  // Expiry 25 x 20 ms = 500 ms, so a new file settles in 500 ms; the
  // services heartbeat while the test waits.
  tracker::TrackerOptions o = replication_options(2);
  o.repair_grace = 60s;
  o.liveness = 25;
  RunningBroker t(o);
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  auto order_within = [&](std::chrono::milliseconds wait) {
    const auto deadline = Clock::now() + wait;
    std::optional<codec::Envelope> order;
    while (!order && Clock::now() < deadline) {
      for (Service* s : {&a.storage, &a.replication, &c.storage, &c.replication}) s->heartbeat(5000);
      order = c.replication.recv_command(Command::kReplicate, 20ms);
    }
    return order;
  };
  c.storage.announce({}, true);
  a.storage.announce({m});  // one holder of k = 2, and more batches to come
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 1; }));
  // Twice the settle time: without safe mode the copy would be ordered.
  CHECK_FALSE(order_within(1000ms).has_value());
  CHECK(t.broker.replication_ticks() == 0);

  a.storage.announce({}, true);  // its last batch: the index is complete
  const auto complete_at = Clock::now();
  auto order = order_within(5000ms);
  REQUIRE(order.has_value());
  CHECK(Clock::now() - complete_at < o.repair_grace);
  CHECK(body_of<proto::ReplicateOrder>(*order).manifest.file_id() == m.file_id());
}

TEST_CASE("safe mode lasts past the repair grace while announcements keep coming, so a file whose second holder "
          "announces late is not copied",
          "[timing]") {
  // Grace 1 s; peer-2 announces in batches 100 ms apart for 3 s, the shared
  // file in its last. peer-1 announced it at the start: without the wait, a
  // copy would be ordered once the grace and the settle time ended.
  RunningBroker t(paced_options(2));
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer b(t.ctx, t.endpoint, "peer-2", 5000);
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  Manifest shared = fake_manifest("doc", 1000);
  announce_sole_holder(a, c, client, shared);
  const auto first = Clock::now();
  bool ordered = false;
  for (int batch = 0; Clock::now() - first < 3 * kPacedGrace; ++batch) {
    b.storage.announce({fake_manifest("filler" + std::to_string(batch), 10)});
    ordered = ordered || b.replication.recv_command(Command::kReplicate, 100ms).has_value() ||
              c.replication.recv_command(Command::kReplicate, 0ms).has_value();
  }
  CHECK_FALSE(ordered);
  CHECK(t.broker.replication_ticks() == 0);  // still in safe mode
  b.storage.announce({shared}, true);
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 2; }));
  CHECK(eventually([&] { return t.broker.replication_ticks() > 0; }));  // the index is complete: over
  // The fillers, on peer-2 alone, are copied now; "doc" has its k = 2.
  const std::set<Hash> copied = copies_ordered(c.replication, kQuiet);
  CHECK_FALSE(copied.empty());
  CHECK_FALSE(copied.contains(shared.file_id()));
}

TEST_CASE("after safe mode, replication waits while a peer announces, so a file whose other holder announces late is "
          "not copied",
          "[timing]") {
  // As the case above, once safe mode is long over: two peers register
  // with what they hold (restarted, or back after a while), "doc" (k = 2) in
  // peer-1's first batch and in peer-2's last, 3 s later.
  RunningBroker t(paced_options(2));
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  c.storage.announce({}, true);
  REQUIRE(eventually([&] { return t.broker.replication_ticks() > 0; }));  // safe mode is over

  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer b(t.ctx, t.endpoint, "peer-2", 5000);
  Manifest shared = fake_manifest("doc", 1000);
  a.storage.announce({shared}, true);
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 1; }));
  const auto ticks_before = t.broker.replication_ticks();
  const auto first = Clock::now();
  bool ordered = false;
  for (int batch = 0; Clock::now() - first < 3 * kPacedGrace; ++batch) {
    b.storage.announce({fake_manifest("filler" + std::to_string(batch), 10)});
    ordered = ordered || c.replication.recv_command(Command::kReplicate, 100ms).has_value();
  }
  CHECK_FALSE(ordered);
  CHECK(t.broker.replication_ticks() == ticks_before);  // no plan while peer-2 announces
  b.storage.announce({shared}, true);
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 2; }));
  // Every peer has announced: the fillers, on peer-2 alone, are copied now.
  const std::set<Hash> copied = copies_ordered(c.replication, 5 * kQuiet);
  CHECK_FALSE(copied.empty());
  CHECK_FALSE(copied.contains(shared.file_id()));
}

TEST_CASE("a big announcement after safe mode stops keeping the short files in order, and the plan after it still "
          "copies them",
          "[timing]") {
  // k = 2. peer-1 announces one file (under the threshold of 8), then peer-2
  // announces a file a batch, 20 ms apart, until the tracker stops keeping
  // its short files in order; its files have one holder each.
  tracker::TrackerOptions o = paced_options(2);
  o.unsorted_announcement = 8;
  RunningBroker t(o);
  FakePeer c(t.ctx, t.endpoint, "peer-3", 1u << 30);
  Dealer client(t.ctx, t.endpoint);
  c.storage.announce({}, true);
  REQUIRE(eventually([&] { return t.broker.replication_ticks() > 0; }));  // safe mode is over

  FakePeer a(t.ctx, t.endpoint, "peer-1", 1u << 30);
  a.storage.announce({fake_manifest("small", 10)}, true);
  REQUIRE(eventually([&] { return holder_ids(client, "small").size() == 1; }));
  CHECK(t.broker.short_file_pauses() == 0);  // a small announcement keeps them in order

  FakePeer b(t.ctx, t.endpoint, "peer-2", 1u << 30);
  const auto deadline = Clock::now() + 10s;
  bool ordered = false;
  for (int batch = 0; t.broker.short_file_pauses() == 0 && Clock::now() < deadline; ++batch) {
    b.storage.announce({fake_manifest("big" + std::to_string(batch), 10)});
    ordered = ordered || c.replication.recv_command(Command::kReplicate, 20ms).has_value();
  }
  REQUIRE(t.broker.short_file_pauses() == 1);
  CHECK_FALSE(ordered);  // nothing planned while peer-2 announces
  b.storage.announce({}, true);
  // Replication resumes with the short files sorted again: the files only
  // peer-2 holds are copied.
  const std::set<Hash> copied = copies_ordered(c.replication, 5 * kQuiet);
  const Hash small = fake_manifest("small", 10).file_id();
  CHECK(std::any_of(copied.begin(), copied.end(), [&](const Hash& id) { return id != small; }));
}

TEST_CASE("safe mode lasts the whole rejoin window even when the repair grace is shorter, so a holder that rejoins "
          "late in it is not copied around",
          "[timing]") {
  // Grace 300 ms, window 1.5 s: peer-1 announces "doc" (k = 2) in full at
  // once; its other holder, peer-2, rejoins 1 s after the start. Ending safe
  // mode with the grace would order a copy to peer-3 at ~300 ms.
  tracker::TrackerOptions o = replication_options(2);
  o.rejoin_window = 1500ms;
  RunningBroker t(o);
  const auto started = Clock::now();
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  announce_sole_holder(a, c, client, m);
  bool ordered = false;
  while (Clock::now() - started < 1000ms)
    ordered = ordered || c.replication.recv_command(Command::kReplicate, 20ms).has_value();
  CHECK_FALSE(ordered);
  CHECK(t.broker.replication_ticks() == 0);  // still in safe mode, well past the grace

  FakePeer b(t.ctx, t.endpoint, "peer-2", 5000);
  b.storage.announce({m}, true);
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 2; }));
  CHECK(eventually([&] { return t.broker.replication_ticks() > 0; }));  // the window ended: over
  CHECK(Clock::now() - started >= *o.rejoin_window);
  CHECK_FALSE(c.replication.recv_command(Command::kReplicate, kQuiet).has_value());  // "doc" has its k = 2
}

TEST_CASE("failed copy is planned again", "[timing]") {
  RunningBroker t(replication_options(2));
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  a.storage.announce({m});  // never full: repaired once the safe mode is over

  REQUIRE(c.replication.recv_command(Command::kReplicate).has_value());
  c.replication.send(Command::kReplicated,
                     proto::ReplicatedBody{m.file_id(), static_cast<std::uint16_t>(ErrorCode::kShuttingDown), "busy"});
  auto again = c.replication.recv_command(Command::kReplicate);  // the only target: tried again
  REQUIRE(again.has_value());
  CHECK(body_of<proto::ReplicateOrder>(*again).manifest.file_id() == m.file_id());
}

TEST_CASE("a done copy frees its slot for the next one without waiting for the heartbeat", "[timing]") {
  // Ticks once a second: ten copies through two slots at one target would
  // take five ticks (4 s or more) if only the heartbeat planned.
  tracker::TrackerOptions o = replication_options(2);
  o.heartbeat = 1000ms;
  o.liveness = 30;
  RunningBroker t(o);
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  std::vector<Manifest> files;
  for (int i = 0; i < 10; ++i) files.push_back(fake_manifest("doc" + std::to_string(i), 10));
  a.storage.announce(files);  // one holder of k = 2: repaired once the safe mode is over

  std::set<Hash> copied;
  std::optional<Clock::time_point> first;
  while (copied.size() < files.size()) {
    auto order = c.replication.recv_command(Command::kReplicate, 5000ms);
    REQUIRE(order.has_value());
    if (!first) first = Clock::now();
    const Hash id = body_of<proto::ReplicateOrder>(*order).manifest.file_id();
    CHECK(copied.insert(id).second);
    c.replication.send(Command::kReplicated, proto::ReplicatedBody{id, 0, ""});
  }
  CHECK(Clock::now() - *first < o.heartbeat);
}

TEST_CASE("drain leads to copies and, once they are confirmed, release", "[timing]") {
  TwoHoldersOfThree net;

  net.a.storage.send(Command::kDrain, proto::Empty{});
  auto order_env = net.c.replication.recv_command(Command::kReplicate);
  REQUIRE(order_env.has_value());
  const auto order = body_of<proto::ReplicateOrder>(*order_env);
  REQUIRE(order.sources.size() == 2);
  CHECK(order.sources[0].peer_id == "peer-2");  // the draining peer is a source too, last
  CHECK(order.sources[1].peer_id == "peer-1");

  // Draining: shown, still located, no longer placed on.
  CHECK(status_of(net.client).draining == 1);
  CHECK(status_of(net.client).under_replicated == 1);  // its draining holder is not a safe one
  CHECK(summary_of(net.client, "peer-1").draining);
  CHECK(holder_ids(net.client, "doc") == std::vector<std::string>{"peer-1", "peer-2"});
  auto place = net.client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"new", 10, 3, {}});
  REQUIRE(place.ok());
  REQUIRE(place->peers.size() == 2);
  for (const auto& p : place->peers) CHECK(p.peer_id != "peer-1");

  // Not released while its file would be short without it.
  CHECK_FALSE(net.a.storage.recv_command(Command::kRelease, kQuiet).has_value());

  net.c.replication.send(Command::kReplicated, proto::ReplicatedBody{net.m.file_id(), 0, ""});
  CHECK(net.a.storage.recv_command(Command::kRelease).has_value());
  CHECK(status_of(net.client).under_replicated == 0);
}

TEST_CASE("last peer of the network is released at once", "[timing]") {
  RunningBroker t(replication_options(3));
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  a.storage.announce({fake_manifest("doc", 1000)});
  a.storage.send(Command::kDrain, proto::Empty{});
  CHECK(a.storage.recv_command(Command::kRelease).has_value());
}

TEST_CASE("leave sends drain to the peer") {
  RunningBroker t(replication_options(2));
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  Dealer client(t.ctx, t.endpoint);
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));

  CHECK(code_of(client.call<proto::Empty>(Command::kLeave, proto::QueryRequest{"ghost"})) == ErrorCode::kNotFound);
  CHECK(client.call<proto::Empty>(Command::kLeave, proto::QueryRequest{"peer-1"}).ok());
  CHECK(a.storage.recv_command(Command::kDrain).has_value());
  CHECK(status_of(client).draining == 1);

  a.storage.send(Command::kDisconnect, proto::Empty{});  // gone: a dead peer is unknown to LEAVE
  REQUIRE(eventually([&] { return live_peers(client) == 0; }));
  CHECK(status_of(client).draining == 0);
  CHECK(code_of(client.call<proto::Empty>(Command::kLeave, proto::QueryRequest{"peer-1"})) == ErrorCode::kNotFound);
}

TEST_CASE("removed drops the holder") {
  RunningBroker t(replication_options(1));
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  a.storage.announce({m});
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 1; }));
  a.storage.send(Command::kRemoved, proto::FileList{{m.file_id()}});
  REQUIRE(eventually([&] {
    return code_of(client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"doc"})) ==
           ErrorCode::kUnavailable;
  }));
}

TEST_CASE("surplus holder gets one DELETE after the grace, the fullest first", "[timing]") {
  RunningBroker t(replication_options(3));
  const auto joined = Clock::now();  // before any READY: every peer is live since after this
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer b(t.ctx, t.endpoint, "peer-2", 1000);  // the fullest
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  m.replicas = 2;
  for (FakePeer* p : {&a, &b, &c}) p->storage.announce({m});

  auto del = b.storage.recv_command(Command::kDelete);
  REQUIRE(del.has_value());
  CHECK(Clock::now() - joined >= kGrace);
  CHECK(body_of<proto::FileRef>(*del).file_id == m.file_id());
  // One at a time, never below k: no other holder is told to delete.
  CHECK_FALSE(a.storage.recv_command(Command::kDelete, kQuiet).has_value());
  CHECK_FALSE(c.storage.recv_command(Command::kDelete, 0ms).has_value());

  b.storage.send(Command::kRemoved, proto::FileList{{m.file_id()}});
  REQUIRE(eventually([&] { return holder_ids(client, "doc") == std::vector<std::string>{"peer-1", "peer-3"}; }));
  CHECK_FALSE(a.storage.recv_command(Command::kDelete, kQuiet).has_value());
  CHECK_FALSE(c.storage.recv_command(Command::kDelete, 0ms).has_value());
}

TEST_CASE("a DELETE with no REMOVED before the timeout drops that holder, and its next announcement adds it back",
          "[timing]") {
  tracker::TrackerOptions o = replication_options(3);
  o.copy_timeout = 400ms;  // for deletes too
  RunningBroker t(o);
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer b(t.ctx, t.endpoint, "peer-2", 1000);  // the fullest: trimmed
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  m.replicas = 2;
  for (FakePeer* p : {&a, &b, &c}) p->storage.announce({m});

  // peer-2 deletes but its REMOVED never comes (lost on its link).
  REQUIRE(b.storage.recv_command(Command::kDelete).has_value());
  const auto sent = Clock::now();
  REQUIRE(eventually([&] { return holder_ids(client, "doc") == std::vector<std::string>{"peer-1", "peer-3"}; }));
  CHECK(Clock::now() - sent >= 300ms);  // not before the timeout (less the wait for the DELETE)
  // At k: nothing more is trimmed from the two that really hold it.
  CHECK_FALSE(a.storage.recv_command(Command::kDelete, kQuiet).has_value());
  CHECK_FALSE(c.storage.recv_command(Command::kDelete, 0ms).has_value());

  // Had peer-2 kept the file, its announcement says so: a holder again,
  // and a surplus to trim again.
  b.storage.announce({m});
  REQUIRE(eventually(
      [&] { return holder_ids(client, "doc") == std::vector<std::string>{"peer-1", "peer-2", "peer-3"}; }));
  auto again = b.storage.recv_command(Command::kDelete);
  REQUIRE(again.has_value());
  CHECK(body_of<proto::FileRef>(*again).file_id == m.file_id());
}

TEST_CASE("a DELETE answered in time is not dropped again at the timeout", "[timing]") {
  tracker::TrackerOptions o = replication_options(3);
  o.copy_timeout = 400ms;
  RunningBroker t(o);
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer b(t.ctx, t.endpoint, "peer-2", 1000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  m.replicas = 1;
  for (FakePeer* p : {&a, &b}) p->storage.announce({m});
  REQUIRE(b.storage.recv_command(Command::kDelete).has_value());
  b.storage.send(Command::kRemoved, proto::FileList{{m.file_id()}});
  REQUIRE(eventually([&] { return holder_ids(client, "doc") == std::vector<std::string>{"peer-1"}; }));
  // Past the timeout the only holder is still listed.
  const auto deadline = Clock::now() + 2 * o.copy_timeout;
  while (Clock::now() < deadline) {
    REQUIRE(holder_ids(client, "doc") == std::vector<std::string>{"peer-1"});
    CHECK_FALSE(a.storage.recv_command(Command::kDelete, 20ms).has_value());
  }
}

TEST_CASE("a settled tracker does not plan again until something it plans from changes", "[timing]") {
  RunningBroker t(replication_options(2));
  FakePeer a(t.ctx, t.endpoint, "peer-1", 5000);
  FakePeer b(t.ctx, t.endpoint, "peer-2", 5000);
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("doc", 1000);
  a.storage.announce({m});
  b.storage.announce({m});
  REQUIRE(eventually([&] { return holder_ids(client, "doc").size() == 2; }));
  REQUIRE(eventually([&] { return t.broker.replication_ticks() > 0; }));  // safe mode is over

  // Ten ticks with nothing to do: at most the one plan that finds that out.
  const std::uint64_t plans = t.broker.replication_plans();
  const std::uint64_t ticks = t.broker.replication_ticks();
  REQUIRE(eventually([&] { return t.broker.replication_ticks() >= ticks + 10; }));
  CHECK(t.broker.replication_plans() <= plans + 1);

  // A peer joins: the registry changed, so the next tick plans.
  const std::uint64_t before_join = t.broker.replication_plans();
  FakePeer c(t.ctx, t.endpoint, "peer-3", 9000);
  REQUIRE(eventually([&] { return live_peers(client) == 3; }));
  CHECK(eventually([&] { return t.broker.replication_plans() > before_join; }));

  // A holder goes: the repair still comes, after its grace.
  b.storage.send(Command::kDisconnect, proto::Empty{});
  auto order = c.replication.recv_command(Command::kReplicate);
  REQUIRE(order.has_value());
  CHECK(body_of<proto::ReplicateOrder>(*order).manifest.file_id() == m.file_id());
}
