// The tracker broker running on a thread in-process, driven over TCP by
// DEALER sockets speaking the real protocol through common/codec.
#include "tracker_harness.h"

#include <memory>
#include <set>

#include "tests/support/numbered.h"

using namespace p2p;
using namespace std::chrono_literals;
using proto::Command;

using namespace p2p::tracker_test;

TEST_CASE("announced file is located at its live holder") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  Manifest m = fake_manifest("movie.mkv", 100000);
  storage.announce({m}, true);

  Result<proto::LocateReply> found = Status{ErrorCode::kInternal, "not asked"};
  REQUIRE(eventually([&] {
    found = client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"movie.mkv"});
    return found.ok();
  }));
  CHECK(found->file_id == m.file_id());
  CHECK(found->manifest.file_id() == m.file_id());
  REQUIRE(found->holders.size() == 1);
  CHECK(found->holders[0].peer_id == "peer-1");
  CHECK(found->holders[0].endpoint == "tcp://127.0.0.1:7100");

  auto by_id = client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{m.file_id().hex()});
  REQUIRE(by_id.ok());
  CHECK(by_id->manifest.name == "movie.mkv");

  auto stat = client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"movie.mkv"});
  REQUIRE(stat.ok());
  CHECK(stat->file.holders == 1);
  CHECK(stat->file.replicas == 3);
  CHECK(stat->file.chunk_count == m.chunk_count());

  CHECK(code_of(client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"nope"})) ==
        ErrorCode::kNotFound);
  CHECK(code_of(client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"nope"})) == ErrorCode::kNotFound);
}

TEST_CASE("LOCATE gives each client its own order of a file's holders, draining holders last, and STAT by peer id") {
  RunningBroker t(options());
  Service a(t.ctx, t.endpoint, "peer-1"), b(t.ctx, t.endpoint, "peer-2"), c(t.ctx, t.endpoint, "peer-3");
  Manifest m = fake_manifest("popular.bin", 1000);
  for (Service* s : {&a, &b, &c}) s->announce({m});
  // A get of a small file asks its first holder only. Each of 60 clients
  // asks twice: the same order both times (its small gets stay with one
  // holder), and every holder comes first for some client (each misses all
  // 60 with odds (2/3)^60).
  std::vector<std::unique_ptr<Dealer>> clients;
  for (int i = 0; i < 60; ++i) clients.push_back(std::make_unique<Dealer>(t.ctx, t.endpoint));
  auto holders_for = [&](Dealer& client) {
    auto found = client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"popular.bin"});
    std::vector<std::string> ids;
    if (found.ok())
      for (const auto& h : found->holders) ids.push_back(h.peer_id);
    return ids;
  };
  REQUIRE(eventually([&] { return holders_for(*clients[0]).size() == 3; }));
  auto orders = [&] {
    std::set<std::string> firsts, lasts;
    for (auto& client : clients) {
      const std::vector<std::string> order = holders_for(*client);
      REQUIRE(order.size() == 3);
      CHECK(holders_for(*client) == order);
      firsts.insert(order.front());
      lasts.insert(order.back());
    }
    return std::make_pair(firsts, lasts);
  };
  CHECK(orders().first == std::set<std::string>{"peer-1", "peer-2", "peer-3"});

  c.send(Command::kDrain, proto::Empty{});
  REQUIRE(eventually([&] {
    auto st = clients[0]->call<proto::StatusReply>(Command::kStatus, proto::Empty{});
    return st.ok() && st->draining == 1;
  }));
  auto [firsts, lasts] = orders();
  CHECK(firsts == std::set<std::string>{"peer-1", "peer-2"});
  CHECK(lasts == std::set<std::string>{"peer-3"});

  auto stat = clients[0]->call<proto::StatReply>(Command::kStat, proto::QueryRequest{"popular.bin"});
  REQUIRE(stat.ok());
  REQUIRE(stat->holders.size() == 3);
  CHECK(stat->holders[0].peer_id == "peer-1");
  CHECK(stat->holders[2].peer_id == "peer-3");
}

TEST_CASE("a name the tracker does not know is 'announcing' while peers rejoin it after its start or announce, then "
          "not_found") {
  auto opts = options();
  opts.rejoin_window = 2000ms;
  RunningBroker t(opts);
  Dealer client(t.ctx, t.endpoint);
  auto locate = [&](const std::string& name) {
    return client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{name});
  };
  // Just started: the peers that held files may not have rejoined yet.
  Result<proto::LocateReply> early = locate("movie.mkv");
  CHECK(early.status().code() == ErrorCode::kAnnouncing);
  CHECK(early.status().message().find("ask again") != std::string::npos);
  CHECK(code_of(client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"movie.mkv"})) ==
        ErrorCode::kAnnouncing);
  // The rejoin window ends: what nobody announced is unknown.
  CHECK(eventually([&] { return code_of(locate("movie.mkv")) == ErrorCode::kNotFound; }));

  // A peer joins and announces in batches: until its last one, a name it may
  // still announce is not known yet, while what it announced is found.
  Service storage(t.ctx, t.endpoint, "peer-1");
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));
  CHECK(code_of(locate("movie.mkv")) == ErrorCode::kAnnouncing);
  storage.announce({fake_manifest("first.bin", 10)});
  REQUIRE(eventually([&] { return locate("first.bin").ok(); }));
  CHECK(code_of(locate("movie.mkv")) == ErrorCode::kAnnouncing);
  storage.announce({fake_manifest("movie.mkv", 10)}, true);
  REQUIRE(eventually([&] { return locate("movie.mkv").ok(); }));
  CHECK(code_of(locate("nope")) == ErrorCode::kNotFound);
  CHECK(code_of(client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"nope"})) == ErrorCode::kNotFound);

  // A peer that leaves before its last batch announces nothing more.
  {
    Service quitter(t.ctx, t.endpoint, "peer-2");
    REQUIRE(eventually([&] { return live_peers(client) == 2; }));
    CHECK(code_of(locate("nope")) == ErrorCode::kAnnouncing);
    quitter.send(Command::kDisconnect, proto::Empty{});
    REQUIRE(eventually([&] { return live_peers(client) == 1; }));
  }
  CHECK(code_of(locate("nope")) == ErrorCode::kNotFound);
}

TEST_CASE("LIST, SEARCH, STAT and STATUS say the index is incomplete while peers rejoin or announce") {
  auto opts = options();
  opts.rejoin_window = 2000ms;
  RunningBroker t(opts);
  Dealer client(t.ctx, t.endpoint);
  auto list = [&] { return client.call<proto::ListReply>(Command::kList, proto::Empty{}); };
  auto status = [&] { return client.call<proto::StatusReply>(Command::kStatus, proto::Empty{}); };

  // Just started: the rest of the rejoin window is the reason.
  Result<proto::ListReply> early = list();
  REQUIRE(early.ok());
  CHECK(early->index.rejoin_left_ms > 0);
  CHECK(early->index.rejoin_left_ms <= 2000);
  CHECK(early->index.announcing == 0);
  REQUIRE(status().ok());
  CHECK_FALSE(status()->index.complete());
  CHECK(eventually([&] { return list().ok() && list()->index.complete(); }));

  // A peer announcing in batches: one peer is the reason until its last batch.
  Service storage(t.ctx, t.endpoint, "peer-1");
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));
  storage.announce({fake_manifest("first.bin", 10)});
  auto search_first = [&] { return client.call<proto::ListReply>(Command::kSearch, proto::SearchRequest{"first"}); };
  REQUIRE(eventually([&] { return search_first().ok() && search_first()->files.size() == 1; }));
  Result<proto::ListReply> partial = search_first();
  REQUIRE(partial.ok());
  CHECK(partial->index.announcing == 1);
  CHECK(partial->index.rejoin_left_ms == 0);
  Result<proto::StatReply> stat = client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"first.bin"});
  REQUIRE(stat.ok());
  CHECK(stat->index.announcing == 1);
  REQUIRE(status().ok());
  CHECK(status()->index.announcing == 1);

  storage.announce({fake_manifest("last.bin", 10)}, true);
  REQUIRE(eventually([&] { return list().ok() && list()->files.size() == 2; }));
  CHECK(list()->index.complete());
  CHECK(search_first()->index.complete());
  CHECK(client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"first.bin"})->index.complete());
  CHECK(status()->index.complete());
}

TEST_CASE("invalid manifests in an announce are skipped") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  Manifest bad = fake_manifest("bad", 100000);
  bad.chunks.pop_back();  // chunk count no longer matches the size
  storage.announce({bad, fake_manifest("good", 10)}, true);
  REQUIRE(eventually([&] {
    return client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"good"}).ok();
  }));
  CHECK(code_of(client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"bad"})) ==
        ErrorCode::kNotFound);
}

TEST_CASE("place spreads a file over the peers with most free space") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  CHECK(code_of(client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 10, 0, {}})) ==
        ErrorCode::kNoPeers);

  Service small(t.ctx, t.endpoint, "peer-1", proto::kServiceStorage, 100);
  Service big(t.ctx, t.endpoint, "peer-2", proto::kServiceStorage, 300);
  Service mid(t.ctx, t.endpoint, "peer-3", proto::kServiceStorage, 200);
  REQUIRE(eventually([&] { return live_peers(client) == 3; }));

  auto two = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 150, 2, {}});
  REQUIRE(two.ok());
  REQUIRE(two->peers.size() == 2);
  CHECK(two->peers[0].peer_id == "peer-2");
  CHECK(two->peers[0].endpoint == "tcp://127.0.0.1:7200");
  CHECK(two->peers[1].peer_id == "peer-3");
  CHECK(two->replicas == 2);
  CHECK_FALSE(two->exists);

  auto by_default = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 50, 0, {}});
  REQUIRE(by_default.ok());
  CHECK(by_default->replicas == 3);
  CHECK(by_default->peers.size() == 3);

  auto capped = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 50, 1000, {}});
  REQUIRE(capped.ok());
  CHECK(capped->replicas == limits::kMaxReplicas);

  // A storage heartbeat refreshes free space: now peer-1 is the roomiest.
  small.heartbeat(5000);
  REQUIRE(eventually([&] {
    auto p = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 1, 1, {}});
    return p.ok() && p->peers.at(0).peer_id == "peer-1";
  }));

  CHECK(code_of(client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 6000, 1, {}})) ==
        ErrorCode::kNoSpace);
  CHECK(code_of(client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"a/b", 1, 1, {}})) ==
        ErrorCode::kBadName);
}

TEST_CASE("place leaves out the peers a retried put avoids, unless no other has room") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  Service p1(t.ctx, t.endpoint, "peer-1", proto::kServiceStorage, 1000);
  Service p2(t.ctx, t.endpoint, "peer-2", proto::kServiceStorage, 1000);
  Service p3(t.ctx, t.endpoint, "peer-3", proto::kServiceStorage, 1000);
  REQUIRE(eventually([&] { return live_peers(client) == 3; }));
  auto ids = [](const proto::PlaceReply& r) {
    std::set<std::string> s;
    for (const auto& p : r.peers) s.insert(p.peer_id);
    return s;
  };

  // Placement ranks by name, so without `avoid` a retry gets the same peers.
  auto first = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 10, 3, {}});
  REQUIRE(first.ok());
  CHECK(first->peers.size() == 3);
  const std::string head = first->peers.at(0).peer_id;

  auto around = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 10, 3, {head}});
  REQUIRE(around.ok());
  CHECK(around->peers.size() == 2);
  CHECK(ids(around.value()).count(head) == 0);
  CHECK(around->replicas == 3);  // still wanted: the missing replica is a repair's

  // With every live peer avoided, they are the last resort.
  auto all_avoided = client.call<proto::PlaceReply>(Command::kPlace,
                                                    proto::PlaceRequest{"f", 10, 2, {"peer-1", "peer-2", "peer-3"}});
  REQUIRE(all_avoided.ok());
  CHECK(all_avoided->peers.size() == 2);

  // Peers unknown to the tracker are ignored.
  auto unknown = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 10, 3, {"peer-9"}});
  REQUIRE(unknown.ok());
  CHECK(unknown->peers.size() == 3);

  std::vector<std::string> too_many(limits::kMaxAvoidedPeers + 1, "peer-1");
  CHECK(code_of(client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"f", 10, 3, too_many})) ==
        ErrorCode::kBadRequest);
}

TEST_CASE("publish under a name holding other content needs force") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));

  Manifest a = fake_manifest("x", 100, 1);
  Manifest b = fake_manifest("x", 100, 2);
  auto first = client.call<proto::PublishReply>(Command::kPublish, proto::PublishRequest{a, {"peer-1"}, false});
  REQUIRE(first.ok());
  CHECK(first->file_id == a.file_id());

  auto place = client.call<proto::PlaceReply>(Command::kPlace, proto::PlaceRequest{"x", 100, 1, {}});
  REQUIRE(place.ok());
  CHECK(place->exists);
  CHECK(place->existing_file_id == a.file_id());

  CHECK(code_of(client.call<proto::PublishReply>(Command::kPublish, proto::PublishRequest{b, {"peer-1"}, false})) ==
        ErrorCode::kNameExists);
  auto again = client.call<proto::PublishReply>(Command::kPublish, proto::PublishRequest{a, {"peer-1"}, false});
  CHECK(again.ok());  // the same content is no conflict

  auto forced = client.call<proto::PublishReply>(Command::kPublish, proto::PublishRequest{b, {"peer-1"}, true});
  REQUIRE(forced.ok());
  auto now_b = client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"x"});
  REQUIRE(now_b.ok());
  CHECK(now_b->file_id == b.file_id());
  auto old_a = client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{a.file_id().hex()});
  REQUIRE(old_a.ok());  // the replaced file stays reachable by id while held
  CHECK(old_a->file_id == a.file_id());
}

TEST_CASE("publish keeps only live holders and checks the manifest") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));
  auto mixed = client.call<proto::PublishReply>(
      Command::kPublish, proto::PublishRequest{fake_manifest("mixed", 10), {"ghost", "peer-1"}, false});
  REQUIRE(mixed.ok());
  auto stat = client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"mixed"});
  REQUIRE(stat.ok());
  CHECK(stat->file.holders == 1);
  REQUIRE(stat->holders.size() == 1);
  CHECK(stat->holders[0].peer_id == "peer-1");

  Manifest broken = fake_manifest("broken", 100000);
  broken.chunks.pop_back();
  CHECK(code_of(client.call<proto::PublishReply>(Command::kPublish, proto::PublishRequest{broken, {}, false})) ==
        ErrorCode::kBadRequest);
  Manifest dot_dot = fake_manifest("dots", 10);
  dot_dot.name = "..";
  CHECK(code_of(client.call<proto::PublishReply>(Command::kPublish, proto::PublishRequest{dot_dot, {}, false})) ==
        ErrorCode::kBadName);
}

TEST_CASE("publish with no live holder is refused unavailable and indexes nothing") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  CHECK(code_of(client.call<proto::PublishReply>(
            Command::kPublish, proto::PublishRequest{fake_manifest("lonely", 10), {"ghost"}, false})) ==
        ErrorCode::kUnavailable);
  CHECK(code_of(client.call<proto::PublishReply>(Command::kPublish,
                                                 proto::PublishRequest{fake_manifest("nobody", 10), {}, false})) ==
        ErrorCode::kUnavailable);
  // Not even a dead peer's: a peer that left is no holder.
  {
    Service gone(t.ctx, t.endpoint, "peer-1");
    REQUIRE(eventually([&] { return live_peers(client) == 1; }));
    gone.send(Command::kDisconnect, proto::Empty{});
    REQUIRE(eventually([&] { return live_peers(client) == 0; }));
  }
  CHECK(code_of(client.call<proto::PublishReply>(
            Command::kPublish, proto::PublishRequest{fake_manifest("late", 10), {"peer-1"}, true})) ==
        ErrorCode::kUnavailable);

  for (const char* name : {"lonely", "nobody", "late"})
    CHECK(code_of(client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{name})) == ErrorCode::kNotFound);
  auto list = client.call<proto::ListReply>(Command::kList, proto::Empty{});
  REQUIRE(list.ok());
  CHECK(list->files.empty());
  auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
  REQUIRE(status.ok());
  CHECK(status->files == 0);
}

TEST_CASE("search finds substrings and globs, sorted by name") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));
  for (const char* name : {"report-2.txt", "Annual REPORT.pdf", "notes.txt", "photo.jpg"})
    REQUIRE(client.call<proto::PublishReply>(Command::kPublish,
                                             proto::PublishRequest{fake_manifest(name, 10), {"peer-1"}, false})
                .ok());
  auto names = [&](const std::string& pattern) {
    auto reply = client.call<proto::ListReply>(Command::kSearch, proto::SearchRequest{pattern});
    REQUIRE(reply.ok());
    std::vector<std::string> out;
    for (const auto& f : reply->files) out.push_back(f.name);
    return out;
  };
  CHECK(names("report") == std::vector<std::string>{"Annual REPORT.pdf", "report-2.txt"});
  CHECK(names("*.TXT") == std::vector<std::string>{"notes.txt", "report-2.txt"});
  CHECK(names("?hoto.*") == std::vector<std::string>{"photo.jpg"});
  CHECK(names("*.tx").empty());
  CHECK(names("").size() == 4);

  auto list = client.call<proto::ListReply>(Command::kList, proto::Empty{});
  REQUIRE(list.ok());
  REQUIRE(list->files.size() == 4);
  CHECK(list->files[0].name == "Annual REPORT.pdf");
  CHECK(list->files[0].holders == 1);
}

TEST_CASE("worker command from an unknown connection gets disconnect") {
  RunningBroker t(options());
  Dealer stranger(t.ctx, t.endpoint);
  stranger.send(Command::kHeartbeat, proto::HeartbeatBody{});
  CHECK(stranger.recv_command(Command::kDisconnect).has_value());
  stranger.send(Command::kAnnounce, proto::AnnounceBody{{fake_manifest("x", 10)}});
  CHECK(stranger.recv_command(Command::kDisconnect).has_value());

  Dealer client(t.ctx, t.endpoint);
  CHECK(code_of(client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"x"})) ==
        ErrorCode::kNotFound);
}

TEST_CASE("second ready on one connection gets disconnect") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  REQUIRE(eventually([&] { return live_peers(client) == 1; }));
  storage.send(Command::kReady, proto::ReadyBody{"peer-1", proto::kServiceStorage, "tcp://127.0.0.1:7100", 1, 1});
  CHECK(storage.recv_command(Command::kDisconnect).has_value());
  CHECK(live_peers(client) == 0);
}

TEST_CASE("storage disconnect makes the peer leave") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Service transfer(t.ctx, t.endpoint, "peer-1", proto::kServiceTransfer, 0);
  Dealer client(t.ctx, t.endpoint);
  storage.announce({fake_manifest("doc", 10)});
  REQUIRE(eventually([&] {
    return client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"doc"}).ok();
  }));
  storage.send(Command::kDisconnect, proto::Empty{});
  REQUIRE(eventually([&] {
    return code_of(client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"doc"})) ==
           ErrorCode::kUnavailable;
  }));
  CHECK(live_peers(client) == 0);
  auto peers = client.call<proto::PeersReply>(Command::kPeers, proto::Empty{});
  REQUIRE(peers.ok());
  REQUIRE(peers->peers.size() == 1);  // transfer is still registered
  CHECK(peers->peers[0].services == std::vector<std::string>{proto::kServiceTransfer});
}

TEST_CASE("while a departed peer is taken off its files, STATUS says how many are left and STAT counts live "
          "holders only") {
  RunningBroker t(options());
  Service a(t.ctx, t.endpoint, "peer-1"), b(t.ctx, t.endpoint, "peer-2");
  Dealer client(t.ctx, t.endpoint);
  // Several steps' worth (each file is two units of a step's work).
  const std::size_t files = 4 * tracker::kDepartureStep;
  std::vector<Manifest> batch;
  for (std::size_t i = 0; i < files; ++i) {
    batch.push_back(fake_manifest(test::numbered("f", i), 10));
    if (batch.size() == limits::kMaxAnnounceBatch || i + 1 == files) {
      a.announce(batch, i + 1 == files);
      b.announce(batch, i + 1 == files);
      batch.clear();
    }
  }
  auto status = [&] {
    auto s = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
    REQUIRE(s.ok());
    return s.value();
  };
  REQUIRE(eventually([&] { return status().index.complete() && status().files == files; }));

  a.send(Command::kDisconnect, proto::Empty{});
  // Asked without pause: the first answer without peer-1 comes while its files are taken off.
  proto::StatusReply first_without;
  REQUIRE(eventually([&] {
    first_without = status();
    return first_without.peers == 1;
  }));
  CHECK(first_without.index.departed_holdings > 0);
  CHECK(first_without.index.departed_holdings <= files);
  CHECK(first_without.index.complete());  // a holder left over is no missing file
  auto stat = client.call<proto::StatReply>(Command::kStat, proto::QueryRequest{"f0"});
  const std::uint64_t left_after_stat = status().index.departed_holdings;
  REQUIRE(stat.ok());
  CHECK(stat->file.holders == 1);  // peer-2 only, whether or not the steps have reached f0
  REQUIRE(stat->holders.size() == 1);
  CHECK(stat->holders[0].peer_id == "peer-2");
  INFO("files left after the STAT: " << left_after_stat << " (0: the STAT may have come after the steps)");
  CHECK(left_after_stat > 0);

  REQUIRE(eventually([&] { return status().index.departed_holdings == 0; }));
  CHECK(status().stored_bytes == 10 * files);  // one holder a file
}

TEST_CASE("restarted storage service is forgotten until it re-announces") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  Service before(t.ctx, t.endpoint, "peer-1");
  before.announce({fake_manifest("doc", 10)});
  auto located = [&] { return client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"doc"}); };
  REQUIRE(eventually([&] { return located().ok(); }));

  Service after(t.ctx, t.endpoint, "peer-1");  // same peer id, new connection
  REQUIRE(eventually([&] { return code_of(located()) == ErrorCode::kUnavailable; }));
  CHECK(live_peers(client) == 1);
  after.announce({fake_manifest("doc", 10)});
  REQUIRE(eventually([&] { return located().ok(); }));

  before.heartbeat();  // the old connection is stale now
  CHECK(before.recv_command(Command::kDisconnect).has_value());
}

namespace {

// Waits until the tracker has taken `after`'s READY: from then on the
// connection it replaced is unknown and a heartbeat on it is answered with
// DISCONNECT.
bool replaced(Service& before) {
  bool gone = false;
  return eventually([&] { return gone; }, [&] {
    before.heartbeat();
    gone = before.recv_command(Command::kDisconnect, 20ms).has_value();
  });
}

Result<proto::LocateReply> locate(Dealer& client, const std::string& name) {
  return client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{name});
}

// peer-1's storage service as one process (incarnation 77) sends every READY.
proto::ReadyBody storage_ready() { return Service::ready_of("peer-1", proto::kServiceStorage, 1000, 77); }

// `s` announces `names` as all it holds; true once LOCATE finds each.
bool holds_all(Service& s, Dealer& client, const std::vector<std::string>& names) {
  std::vector<Manifest> files;
  for (const std::string& name : names) files.push_back(fake_manifest(name, 10));
  s.announce(files, true);
  return eventually([&] {
    for (const std::string& name : names)
      if (!locate(client, name).ok()) return false;
    return true;
  });
}

}  // namespace

TEST_CASE("a storage service that reconnects from the same process keeps its files located") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  Service before(t.ctx, t.endpoint, storage_ready());
  REQUIRE(holds_all(before, client, {"doc"}));

  Service after(t.ctx, t.endpoint, storage_ready());
  REQUIRE(replaced(before));
  auto now = locate(client, "doc");  // before any announcement on the new connection
  REQUIRE(now.ok());
  CHECK(now->holders.size() == 1);
}

TEST_CASE("a reconnected storage service loses the files its complete announcement leaves out") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  Service before(t.ctx, t.endpoint, storage_ready());
  REQUIRE(holds_all(before, client, {"kept", "gone"}));

  Service after(t.ctx, t.endpoint, storage_ready());
  REQUIRE(replaced(before));
  after.announce({fake_manifest("kept", 10)});  // not complete yet: nothing is dropped
  after.announce({fake_manifest("new", 10)}, true);
  REQUIRE(eventually([&] { return locate(client, "new").ok(); }));  // the complete batch is in
  CHECK(code_of(locate(client, "gone")) == ErrorCode::kUnavailable);
  CHECK(locate(client, "kept").ok());
}

TEST_CASE("a storage service that reconnects with another incarnation or endpoint is a restart") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);
  Service before(t.ctx, t.endpoint, storage_ready());
  REQUIRE(holds_all(before, client, {"doc"}));

  proto::ReadyBody ready = storage_ready();
  SECTION("another incarnation") { ready.incarnation = 78; }
  SECTION("another endpoint") { ready.endpoint = "tcp://127.0.0.1:7999"; }
  Service after(t.ctx, t.endpoint, ready);
  REQUIRE(replaced(before));
  CHECK(code_of(locate(client, "doc")) == ErrorCode::kUnavailable);  // forgotten until it announces
}

TEST_CASE("peers and status describe the live network") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1", proto::kServiceStorage, 700);
  Service transfer(t.ctx, t.endpoint, "peer-1", proto::kServiceTransfer, 0);
  Dealer client(t.ctx, t.endpoint);
  storage.announce({fake_manifest("a", 100), fake_manifest("b", 50)});
  storage.heartbeat(600);

  REQUIRE(eventually([&] {
    auto s = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
    return s.ok() && s->files == 2 && s->free_bytes == 600;
  }));
  auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
  REQUIRE(status.ok());
  CHECK(status->peers == 1);
  CHECK(status->capacity == 10000);
  CHECK(status->bytes == 150);
  CHECK(status->stored_bytes == 150);
  CHECK(status->under_replicated == 0);  // 1 holder; wanted = min(k 3, 1 live peer) = 1
  CHECK(status->copies == 0);
  CHECK(status->draining == 0);
  CHECK(status->unavailable == 0);

  REQUIRE(eventually([&] {
    auto p = client.call<proto::PeersReply>(Command::kPeers, proto::Empty{});
    return p.ok() && p->peers.size() == 1 && p->peers[0].services.size() == 2;
  }));
  auto peers = client.call<proto::PeersReply>(Command::kPeers, proto::Empty{});
  REQUIRE(peers.ok());
  const proto::PeerSummary& p = peers->peers.at(0);
  CHECK(p.peer_id == "peer-1");
  CHECK(p.files == 2);
  CHECK(p.free_bytes == 600);
  CHECK(p.services == std::vector<std::string>{proto::kServiceStorage, proto::kServiceTransfer});
  CHECK_FALSE(p.draining);
  CHECK(p.copies == 0);
}

TEST_CASE("malformed messages get error replies and the tracker keeps serving") {
  RunningBroker t(options());
  Dealer client(t.ctx, t.endpoint);

  SECTION("garbage header") {
    client.send_raw([] {
      std::vector<zmq::message_t> f;
      f.emplace_back(std::string("\xc1\xc1"));
      f.emplace_back(codec::encode(proto::Empty{}));
      return f;
    }());
    auto reply = client.recv_command(Command::kError);
    REQUIRE(reply.has_value());
    CHECK(codec::error_from(*reply).code() == ErrorCode::kBadRequest);
  }
  SECTION("message without a delimiter") {
    client.socket.send(zmq::str_buffer("no delimiter here"), zmq::send_flags::none);
    auto reply = client.recv_command(Command::kError);
    REQUIRE(reply.has_value());
    CHECK(codec::error_from(*reply).code() == ErrorCode::kBadRequest);
  }
  SECTION("too many frames") {
    client.send_raw([] {
      std::vector<zmq::message_t> f;
      f.push_back(header(proto::kVersion, static_cast<std::uint8_t>(Command::kStatus), 9));
      for (int i = 0; i < 3; ++i) f.emplace_back(codec::encode(proto::Empty{}));
      return f;
    }());
    auto reply = client.recv_command(Command::kError);
    REQUIRE(reply.has_value());
    CHECK(codec::error_from(*reply).code() == ErrorCode::kBadRequest);
  }
  SECTION("unknown command") {
    client.send_raw([] {
      std::vector<zmq::message_t> f;
      f.push_back(header(proto::kVersion, 77, 5));
      f.emplace_back(codec::encode(proto::Empty{}));
      return f;
    }());
    codec::Envelope reply = client.reply_to(5);
    CHECK(codec::error_from(reply).code() == ErrorCode::kUnknownCommand);
  }
  SECTION("data-plane command sent to the tracker") {
    auto r = client.call<proto::ChunkRef>(Command::kGetChunk, proto::ChunkRef{});
    CHECK(code_of(r) == ErrorCode::kUnknownCommand);
  }
  SECTION("body of the wrong shape") {
    CHECK(code_of(client.call<proto::PlaceReply>(Command::kPlace, std::string("not a PlaceRequest"))) ==
          ErrorCode::kBadRequest);
    CHECK(code_of(client.call<proto::LocateReply>(Command::kLocate, std::make_tuple(1, 2))) ==
          ErrorCode::kBadRequest);
  }
  SECTION("bad ready body") {
    Dealer worker(t.ctx, t.endpoint);
    auto r = worker.call<proto::Empty>(Command::kReady, proto::ReadyBody{"p", "bogus-service", "tcp://x:1", 1, 1});
    CHECK(code_of(r) == ErrorCode::kBadRequest);
  }
  SECTION("wrong protocol version") {
    client.send_raw([] {
      std::vector<zmq::message_t> f;
      f.push_back(header(2, static_cast<std::uint8_t>(Command::kStatus), 6));
      f.emplace_back(codec::encode(proto::Empty{}));
      return f;
    }());
    codec::Envelope reply = client.reply_to(6);
    CHECK(codec::error_from(reply).code() == ErrorCode::kVersion);
  }
  // Whatever came before, the tracker still answers.
  CHECK(client.call<proto::StatusReply>(Command::kStatus, proto::Empty{}).ok());
}

TEST_CASE("broker run returns after stop") {
  zmq::context_t ctx;
  tracker::Broker broker(ctx, options());
  REQUIRE(broker.bind().ok());
  Status result{ErrorCode::kInternal, "not run"};
  std::thread loop([&] { result = broker.run(); });
  broker.stop();
  loop.join();
  CHECK(result.ok());
}

TEST_CASE("broker bind to a busy endpoint fails with a reason") {
  zmq::context_t ctx;
  tracker::Broker first(ctx, options());
  Result<std::string> ep = first.bind();
  REQUIRE(ep.ok());
  tracker::TrackerOptions o = options();
  o.endpoint = ep.value();
  tracker::Broker second(ctx, o);
  Result<std::string> busy = second.bind();
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.status().code() == ErrorCode::kIo);
  CHECK(busy.status().message().find(ep.value()) != std::string::npos);
}

TEST_CASE("status asked before a holder dies counts the file unavailable after it") {
  RunningBroker t(options());
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  storage.announce({fake_manifest("doc", 10)});
  auto status = [&] {
    auto s = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
    REQUIRE(s.ok());
    return s.value();
  };
  REQUIRE(eventually([&] { return status().files == 1; }));
  CHECK(status().unavailable == 0);  // asked twice with nothing changed in between
  CHECK(status().unavailable == 0);

  storage.send(Command::kDisconnect, proto::Empty{});
  REQUIRE(eventually([&] { return status().peers == 0; }));
  CHECK(status().unavailable == 1);
  CHECK(status().files == 1);

  Service again(t.ctx, t.endpoint, "peer-1");  // back, with its file
  again.announce({fake_manifest("doc", 10)});
  REQUIRE(eventually([&] { return status().unavailable == 0; }));
  CHECK(status().under_replicated == 0);  // wanted = min(k 3, 1 live peer) = 1
}
