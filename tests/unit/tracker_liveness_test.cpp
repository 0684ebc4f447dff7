// The tracker's view of service liveness: when silence makes a service dead,
// and the time that is not counted as silence because the service's messages
// waited unread behind the tracker's own work. The broker runs in-process,
// driven over TCP (tracker_harness.h).
#include <algorithm>
#include <memory>
#include <set>

#include "tests/support/numbered.h"
#include "tracker_harness.h"

using namespace p2p;
using namespace std::chrono_literals;
using proto::Command;

using namespace p2p::tracker_test;

namespace {

// Names that a glob of single-letter runs cannot narrow: each SEARCH of
// kSlowGlob matches it against every name and fails late in each.
std::string slow_name(int i) {
  std::string name(200, 'a');
  name += 'z';
  name += std::to_string(i);
  return name;
}
constexpr const char* kSlowGlob = "*a?a?a?a?a?a?a?a?a?a?z?z*";

void announce_slow_names(Service& storage, int files) {
  std::vector<Manifest> batch;
  for (int i = 0; i < files; ++i) {
    batch.push_back(fake_manifest(slow_name(i), 10));
    if (batch.size() == limits::kMaxAnnounceBatch || i + 1 == files) {
      storage.announce(std::move(batch));
      batch.clear();
    }
  }
}

// A pause of the host (a neighbour test, the VM) of heartbeat / kLongWorkShare
// is excused as the broker's own work and postpones every expiry, and the
// host can slow a burst past the bound a rule promises. What one run of a
// burst proves about the rule under test:
enum class Proof {
  kAlways,          // its outcome, whatever the host did (a death despite postponements)
  kIfUndisturbed,   // its outcome, if the broker excused no stretch during it
  kNothing,         // nothing: the host slowed it past the rule's bound
};
// Runs `burst(attempt)` until a run proves, at most kBurstAttempts times;
// true when one did. `burst` checks what must hold every run.
constexpr int kBurstAttempts = 3;
template <class Burst>
bool run_until_proven(const tracker::Broker& broker, Burst burst) {
  for (int attempt = 0; attempt < kBurstAttempts; ++attempt) {
    const std::uint64_t excused = broker.excused_stretches();
    const Proof proof = burst(attempt);
    if (proof == Proof::kAlways) return true;
    if (proof == Proof::kIfUndisturbed && broker.excused_stretches() == excused) return true;
    WARN((proof == Proof::kNothing ? "the host slowed the burst past the rule's bound"
                                   : "a stretch of the burst was excused (the host paused the tracker)")
         << ": running it again");
  }
  return false;
}

}  // namespace

TEST_CASE("peer that stops heartbeating disappears from locate") {
  RunningBroker t(options(50ms, 3));
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  storage.announce({fake_manifest("doc", 10)});
  auto located = [&] { return client.call<proto::LocateReply>(Command::kLocate, proto::QueryRequest{"doc"}); };
  REQUIRE(eventually([&] { return located().ok(); }, [&] { storage.heartbeat(); }));

  // The tracker heartbeats registered services.
  CHECK(storage.recv_command(Command::kHeartbeat).has_value());

  // Now silence: the peer dies after liveness x heartbeat = 150 ms.
  REQUIRE(eventually([&] { return code_of(located()) == ErrorCode::kUnavailable; }));
  auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
  REQUIRE(status.ok());
  CHECK(status->peers == 0);
  CHECK(status->files == 1);
  CHECK(status->unavailable == 1);

  // Its late heartbeat comes from a connection the tracker forgot.
  storage.heartbeat();
  CHECK(storage.recv_command(Command::kDisconnect).has_value());
}

TEST_CASE("heartbeats that wait behind a long pass of the tracker do not make the peer dead", "[timing]") {
  // Expiry 3 x 20 ms = 60 ms. A plan looks at every short file until the
  // copy targets' slots are promised. Here the only target (peer-1) holds
  // every file, so its slots never go and each plan looks at all 150,000
  // (~1.5 us a file in a release build: ~200 ms), while peer-1's heartbeats
  // wait in the socket.
  constexpr std::uint64_t kFiles = 150000;
  constexpr auto kHeartbeat = 20ms;
  tracker::TrackerOptions o = options(kHeartbeat, 3);
  o.repair_grace = 0ms;  // no safe mode: the ticks plan from the start
  RunningBroker t(o);
  Service storage(t.ctx, t.endpoint, "peer-1");
  Service replication(t.ctx, t.endpoint, "peer-1", proto::kServiceReplication);
  // A second live peer makes each file want 2 holders; without a replication
  // service it is no copy target.
  Service other(t.ctx, t.endpoint, "peer-2");
  auto heartbeats = [&] {
    storage.heartbeat(1000);
    replication.heartbeat();
    other.heartbeat(1000);
  };
  Dealer client(t.ctx, t.endpoint);
  std::vector<Manifest> batch;
  for (std::uint64_t i = 0; i < kFiles; ++i) {
    batch.push_back(fake_manifest(p2p::test::numbered("f", i), 10));
    if (batch.size() == limits::kMaxAnnounceBatch || i + 1 == kFiles) {
      storage.announce(std::move(batch));
      batch.clear();
      heartbeats();
    }
  }
  // One connection's announces are handled in order: the last file located
  // means all are indexed. Indexing takes seconds in a sanitizer build.
  const proto::QueryRequest last{"f" + std::to_string(kFiles - 1)};
  REQUIRE(eventually([&] { return client.call<proto::LocateReply>(Command::kLocate, last).ok(); }, heartbeats,
                     120s));

  const std::uint64_t excused = t.broker.excused_stretches();
  for (int round = 1; round <= 3; ++round) {
    const std::uint64_t plans = t.broker.replication_plans();
    storage.announce({fake_manifest("extra" + std::to_string(round), 10)});  // the next tick plans again
    REQUIRE(eventually([&] { return t.broker.replication_plans() > plans; }, heartbeats));
    // The count moves as the pass begins; an answer comes after it is over,
    // and after the expiry check that runs before every message.
    heartbeats();
    CHECK(client.call<proto::LocateReply>(Command::kLocate, last).ok());
  }
  // The passes were long: without that this test would prove nothing.
  CHECK(t.broker.excused_stretches() > excused);
  auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
  REQUIRE(status.ok());
  CHECK(status->files == kFiles + 3);
  CHECK(status->peers == 2);
  CHECK(status->unavailable == 0);
  CHECK(status->under_replicated == kFiles + 3);
}

TEST_CASE("after a long request the tracker sends the heartbeats due before it reads the next", "[timing]") {
  // Each SEARCH below matches kSlowGlob against every name, and in each name
  // it fails late at every start: ~180 starts x ~20 bytes, ~30 ms in all,
  // where a quarter heartbeat (2 ms) is already long. All are sent at once,
  // so they wait in one batch; without the rule (broker.cpp, read_messages)
  // the broker answers them all before its next heartbeat.
  constexpr auto kHeartbeat = 8ms;
  constexpr int kFiles = 4000;
  constexpr int kSearches = 8;
  RunningBroker t(options(kHeartbeat, 100000));  // liveness: nothing expires here
  Service storage(t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  announce_slow_names(storage, kFiles);
  const proto::QueryRequest last{slow_name(kFiles - 1)};
  REQUIRE(eventually([&] { return client.call<proto::LocateReply>(Command::kLocate, last).ok(); }));
  // The first SEARCH after the names were bound also builds their segment: not part of the test.
  REQUIRE(client.call<proto::ListReply>(Command::kSearch, proto::SearchRequest{"nothing like it"}).ok());

  const std::uint64_t excused = t.broker.excused_stretches();
  std::set<std::uint64_t> waiting;
  for (int i = 0; i < kSearches; ++i)
    waiting.insert(client.send(Command::kSearch, proto::SearchRequest{kSlowGlob}));
  int replies = 0;
  int heartbeats_between = 0;  // tracker heartbeats after the first reply and before the last
  const auto deadline = Clock::now() + 30s;
  while (!waiting.empty() && Clock::now() < deadline) {
    std::vector<zmq::pollitem_t> items{{client.socket.handle(), 0, ZMQ_POLLIN, 0},
                                       {storage.socket.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, until(deadline));
    codec::Envelope env;
    if ((items[1].revents & ZMQ_POLLIN) && codec::recv_envelope(storage.socket, codec::Layout::kDealer, &env).ok() &&
        env.cmd() == Command::kHeartbeat && replies > 0)
      ++heartbeats_between;
    if ((items[0].revents & ZMQ_POLLIN) && codec::recv_envelope(client.socket, codec::Layout::kDealer, &env).ok() &&
        waiting.erase(env.seq) == 1) {
      CHECK(env.cmd() == Command::kOk);
      ++replies;
    }
  }
  REQUIRE(waiting.empty());
  // The searches were long: without that this test would prove nothing. The
  // broker counts a long piece after it has sent its reply, so wait for the count.
  REQUIRE(eventually([&] { return t.broker.excused_stretches() >= excused + kSearches; }));
  // A heartbeat is due after each search (each takes longer than a
  // heartbeat): 7-8 came between the replies here, 1 without the rule.
  CHECK(heartbeats_between >= kSearches / 2);
}

TEST_CASE("a heartbeat that waits behind short requests from many clients is not counted as silence", "[timing]") {
  // Expiry 3 x 200 ms = 600 ms; work is long (excused) from 50 ms. Each
  // SEARCH here takes a few ms, so none is excused, but one from each of
  // many connections holds the tracker for about 1.4 windows, less than
  // 1 + kMaxUnreadWindows. ROUTER's fair
  // queueing reads the service's heartbeat, sent after them all, about last.
  constexpr auto kHeartbeat = 200ms;
  constexpr auto kWindow = 3 * kHeartbeat;
  // The rule's bound: heard at h, a service whose messages wait unread is
  // not dead before h + kWindow * (1 + kMaxUnreadWindows).
  constexpr auto kSpared = kWindow * (1 + tracker::kMaxUnreadWindows);
  constexpr int kFiles = 1000;
  RunningBroker t(options(kHeartbeat, 3));
  std::optional<Service> storage(std::in_place, t.ctx, t.endpoint, "peer-1");
  Dealer client(t.ctx, t.endpoint);
  announce_slow_names(*storage, kFiles);
  const proto::QueryRequest last{slow_name(kFiles - 1)};
  REQUIRE(eventually([&] { return client.call<proto::LocateReply>(Command::kLocate, last).ok(); },
                     [&] { storage->heartbeat(); }));

  std::vector<std::unique_ptr<Dealer>> clients;  // grows to the largest crowd sized below

  // The service must live through every burst the host left within the
  // rule's bound; one of them must also have had nothing excused.
  CHECK(run_until_proven(t.broker, [&](int attempt) {
    // One SEARCH's cost in this build on this host now (a neighbour test's load
    // comes and goes), the median of 5, sizes the crowd.
    std::vector<Clock::duration> took;
    for (int i = 0; i < 5; ++i) {
      const auto start = Clock::now();
      REQUIRE(client.call<proto::ListReply>(Command::kSearch, proto::SearchRequest{kSlowGlob}).ok());
      took.push_back(Clock::now() - start);
      storage->heartbeat();
    }
    std::sort(took.begin(), took.end());
    REQUIRE(took[2] < kHeartbeat / tracker::kLongWorkShare);  // short work: never excused
    const auto crowd = static_cast<std::size_t>(std::clamp<std::int64_t>(14 * kWindow / took[2] / 10, 8, 2000));
    while (clients.size() < crowd) {
      clients.push_back(std::make_unique<Dealer>(t.ctx, t.endpoint));
      REQUIRE(clients.back()->call<proto::StatusReply>(Command::kStatus, proto::Empty{}).ok());  // connected
      storage->heartbeat();  // connecting them all can take longer than a window
    }

    const auto heard = Clock::now();
    // A request on the service's own connection counts as its heartbeat: its
    // answer means the tracker heard the service just before the crowd.
    REQUIRE(storage->call<proto::StatusReply>(Command::kStatus, proto::Empty{}).ok());
    const auto burst = Clock::now();
    std::vector<std::uint64_t> seqs;
    for (std::size_t i = 0; i < crowd; ++i)
      seqs.push_back(clients[i]->send(Command::kSearch, proto::SearchRequest{kSlowGlob}));
    // The service goes on heartbeating meanwhile, as a peer does: it is never
    // silent, its heartbeats only wait their turn.
    for (std::size_t i = 0; i < crowd; ++i) {
      std::optional<codec::Envelope> reply;
      const auto deadline = Clock::now() + 30s;
      while (!reply && Clock::now() < deadline) {
        storage->heartbeat();
        reply = clients[i]->recv(kHeartbeat / 4);
      }
      REQUIRE(reply.has_value());
      CHECK(reply->seq == seqs[i]);
      CHECK(reply->cmd() == Command::kOk);
    }
    if (Clock::now() - burst < kWindow)
      WARN("the crowd held the tracker for less than a window: this run proves little");

    auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
    REQUIRE(status.ok());
    if (Clock::now() - heard < kSpared) {
      CHECK(status->peers == 1);
      return Proof::kIfUndisturbed;  // a postponed expiry would have spared it anyway
    }
    // The host stretched the burst past that bound: the rule lets the service die.
    // Register it again (a restart) for the next run.
    if (status->peers == 0) {
      storage.emplace(t.ctx, t.endpoint, Service::ready_of("peer-1", proto::kServiceStorage, 1000, attempt + 1));
      REQUIRE(eventually(
          [&] {
            auto now = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
            return now.ok() && now->peers == 1;
          },
          [&] { storage->heartbeat(); }));
    }
    return Proof::kNothing;
  }));
}

TEST_CASE("a silent service is dead before a flood of requests that never empties the socket is read through",
          "[timing]") {
  // Expiry 3 x 20 ms = 60 ms. The clients queue SEARCHes far faster than the
  // tracker answers them, so its socket stays full for many windows; a
  // service that registers while they wait and then says nothing must be
  // dead before the last of them is read (after 1 + kMaxUnreadWindows windows).
  RunningBroker t(options(20ms, 3));
  constexpr int kClients = 64;
  constexpr int kEach = 50;
  // ~1 s of SEARCHes in a release build: many windows. ROUTER's fair queueing
  // reads a connection whose messages all arrived early sooner than the rest:
  // with 32 names (a flood of ~0.3 s) client 0's last STATUS, and only it, was
  // answered within 3 windows of the silence, peer alive, in 4 runs of 30.
  constexpr int kNames = 64;
  {
    Service storage(t.ctx, t.endpoint, "peer-2");  // the names stay indexed after it dies
    announce_slow_names(storage, kNames);
    REQUIRE(eventually(
        [&] {
          auto now = storage.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
          return now.ok() && now->files == kNames;
        }));
  }
  std::vector<std::unique_ptr<Dealer>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Dealer>(t.ctx, t.endpoint));
    REQUIRE(clients.back()->call<proto::StatusReply>(Command::kStatus, proto::Empty{}).ok());  // connected
  }
  // A flood that the silent service survived while the host stalled the tracker
  // is run again with a new silent service; the SEARCHes themselves take
  // microseconds, so an undisturbed one excuses nothing.
  int dead_at_the_end = 0;  // of the last flood: clients whose last answer sees no live peer
  bool last_read_dead = false;  // of the last flood: the last answer to arrive sees no live peer
  CHECK(run_until_proven(t.broker, [&](int attempt) {
    Dealer silent(t.ctx, t.endpoint);
    REQUIRE(silent.call<proto::StatusReply>(Command::kStatus, proto::Empty{}).ok());  // connected, not registered

    std::vector<std::uint64_t> last(kClients);
    for (int round = 0; round < kEach; ++round)
      for (int i = 0; i < kClients; ++i) clients[i]->send(Command::kSearch, proto::SearchRequest{kSlowGlob});
    for (int i = 0; i < kClients; ++i) last[i] = clients[i]->send(Command::kStatus, proto::Empty{});
    const std::string peer_id = "peer-silent-" + std::to_string(attempt);
    silent.send(Command::kReady,
                proto::ReadyBody{peer_id, proto::kServiceStorage, "tcp://127.0.0.1:7100", 10000, 1000});
    auto registered = silent.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
    REQUIRE(registered.ok());
    CHECK(registered->peers >= 1);  // the silent peer is live, with the flood still waiting

    // The last STATUSes are taken as they arrive, from all clients at once:
    // the last to arrive was read last, at the end of the flood. One read
    // early is no proof either way: fair queueing can read a connection
    // whose messages all arrived first well ahead of the rest (1 client of
    // 64 saw the peer alive in a clean-clone run, all others dead).
    int answered = 0;
    dead_at_the_end = 0;
    // The first answers come after the whole flood: longer than kPatience under a sanitizer.
    const auto deadline = Clock::now() + 30s;
    while (answered < kClients && Clock::now() < deadline) {
      std::vector<zmq::pollitem_t> items;
      for (auto& c : clients) items.push_back({c->socket.handle(), 0, ZMQ_POLLIN, 0});
      zmq::poll(items, until(deadline));
      for (int i = 0; i < kClients; ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        // All that came, so that a last answer is taken when it arrives,
        // not one message a pass behind its client's earlier answers.
        while (std::optional<codec::Envelope> env = clients[i]->recv(0ms)) {
          if (env->seq != last[i]) continue;
          proto::StatusReply status;
          REQUIRE(codec::decode(env->body, &status).ok());
          ++answered;
          last_read_dead = status.peers == 0;  // the latest to arrive so far
          if (last_read_dead) ++dead_at_the_end;
        }
      }
    }
    REQUIRE(answered == kClients);
    // A slower host only lengthens the flood, and a death despite postponed
    // expiry proves the rule; a survival may be the postponement's doing.
    return last_read_dead ? Proof::kAlways : Proof::kIfUndisturbed;
  }));
  INFO(dead_at_the_end << " of " << kClients << " clients' last answers saw the silent peer dead");
  CHECK(last_read_dead);
  CHECK(dead_at_the_end > kClients / 2);  // the flood's end, not only its last message
}
