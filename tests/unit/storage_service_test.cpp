#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/chunk_store.h"
#include "common/sha256.h"
#include "common/sockets.h"
#include "services/peer/storage_service.h"
#include "fake_tracker.h"
#include "stored_file.h"
#include "tests/support/eventually.h"

using namespace p2p;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A fake tracker ROUTER in the test thread; the service runs its own thread.
struct Tracker {
  zmq::context_t& ctx;
  zmq::socket_t router;
  std::string endpoint;
  // `receive_queue` > 0: messages the router queues before the sender's queue
  // fills (exact on inproc, where libzmq adds it to the sender's).
  explicit Tracker(zmq::context_t& c, const std::string& bind_to = "tcp://127.0.0.1:*", int receive_queue = 0)
      : ctx(c), router(make_socket(c, zmq::socket_type::router, limits::kMaxControlMessage)) {
    if (receive_queue > 0) router.set(zmq::sockopt::rcvhwm, receive_queue);
    router.bind(bind_to);
    endpoint = bound_endpoint(router);
  }
  // The next message other than HEARTBEAT within 5 s.
  std::optional<codec::Envelope> next() {
    std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
    const auto deadline = Clock::now() + 5000ms;
    while (Clock::now() < deadline) {
      zmq::poll(items, until(deadline));
      codec::Envelope env;
      if (codec::recv_envelope(router, codec::Layout::kRouter, &env).ok() && env.cmd() != proto::Command::kHeartbeat)
        return env;
    }
    return std::nullopt;
  }
  void heartbeat(const codec::Envelope& to) {
    REQUIRE(codec::send_envelope(router, codec::Layout::kRouter, &to.routing, proto::Command::kHeartbeat, 0,
                                 codec::encode(proto::HeartbeatBody{}))
                .ok());
  }
};

struct TempStore {
  fs::path dir;
  ChunkStore store;
  // `before_load` may put files into the data dir the store then loads.
  explicit TempStore(const std::function<void(const fs::path&)>& before_load = {})
      : dir(make_dir()), store(dir, 1 << 20) {
    if (before_load) before_load(dir);
    REQUIRE(store.load().ok());
  }
  ~TempStore() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  static fs::path make_dir() {
    std::random_device rd;
    fs::path p = fs::temp_directory_path() / ("p2p-storage-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(p);
    return p;
  }
  // Stores a one-chunk file and its manifest.
  Manifest add_file(const std::string& name) { return test::add_stored_file(store, name); }
};

ServiceLinkOptions link_to(const std::string& endpoint) {
  ServiceLinkOptions o;
  o.tracker_endpoint = endpoint;
  o.ready.peer_id = "00112233aabbccdd";
  o.ready.endpoint = "tcp://127.0.0.1:7001";
  o.heartbeat = 50ms;
  o.liveness = 100;  // this fake tracker rarely heartbeats: no reconnects mid-test
  return o;
}

std::vector<std::string> announced_names(const codec::Envelope& env) {
  proto::AnnounceBody body;
  REQUIRE(codec::decode(env.body, &body).ok());
  std::vector<std::string> names;
  for (const auto& m : body.files) names.push_back(m.name);
  return names;
}

bool marked_complete(const codec::Envelope& env) {
  proto::AnnounceBody body;
  REQUIRE(codec::decode(env.body, &body).ok());
  return body.complete;
}

std::uint64_t incarnation_of(const codec::Envelope& ready) {
  proto::ReadyBody body;
  REQUIRE(codec::decode(ready.body, &body).ok());
  return body.incarnation;
}

}  // namespace

TEST_CASE("storage service announces complete files on join and committed files as they come") {
  // A manifest whose chunk is gone (lost on disk while the peer was down).
  Manifest partial{"partial.txt", 10, limits::kMinChunkSize, {sha256("x", 1)}, 0};
  TempStore temp([&](const fs::path& dir) {
    fs::create_directories(dir / "manifests");
    msgpack::sbuffer buf;
    msgpack::pack(buf, partial);
    std::ofstream(dir / "manifests" / partial.file_id().hex(), std::ios::binary).write(buf.data(), buf.size());
  });
  Manifest held = temp.add_file("held.txt");

  zmq::context_t ctx;
  Tracker tracker(ctx);
  const std::string events = "inproc://storage-test-committed";
  {
    peer::StorageService storage(ctx, temp.store, link_to(tracker.endpoint), events);
    storage.start();

    std::optional<codec::Envelope> ready = tracker.next();
    REQUIRE(ready);
    REQUIRE(ready->cmd() == proto::Command::kReady);
    proto::ReadyBody body;
    REQUIRE(codec::decode(ready->body, &body).ok());
    CHECK(body.service == "storage");
    CHECK(body.capacity == 1 << 20);
    CHECK(body.free_bytes == temp.store.free_bytes());

    tracker.heartbeat(*ready);  // the tracker answers: the service has joined
    std::optional<codec::Envelope> announce = tracker.next();
    REQUIRE(announce);
    REQUIRE(announce->cmd() == proto::Command::kAnnounce);
    CHECK(announced_names(*announce) == std::vector<std::string>{"held.txt"});  // not the incomplete one
    CHECK(marked_complete(*announce));  // all it holds: the tracker may drop what it did not announce

    Manifest fresh = temp.add_file("fresh.txt");
    zmq::socket_t push = make_socket(ctx, zmq::socket_type::push, 64);
    push.connect(events);
    Hash id = fresh.file_id();
    REQUIRE(push.send(zmq::buffer(id.bytes), zmq::send_flags::dontwait));
    std::optional<codec::Envelope> committed = tracker.next();
    REQUIRE(committed);
    REQUIRE(committed->cmd() == proto::Command::kAnnounce);
    CHECK(announced_names(*committed) == std::vector<std::string>{"fresh.txt"});
    CHECK_FALSE(marked_complete(*committed));  // one more file, not all it holds
    push.close();

    storage.stop();
    std::optional<codec::Envelope> bye = tracker.next();
    REQUIRE(bye);
    CHECK(bye->cmd() == proto::Command::kDisconnect);
  }
}

TEST_CASE("storage service re-announces after the tracker disconnects it") {
  TempStore temp;
  temp.add_file("kept.txt");
  zmq::context_t ctx;
  Tracker tracker(ctx);
  ServiceLinkOptions link = link_to(tracker.endpoint);
  link.ready.incarnation = 0x5eed;
  peer::StorageService storage(ctx, temp.store, link, "inproc://storage-test-rejoin");
  storage.start();
  std::optional<codec::Envelope> first = tracker.next();
  REQUIRE(first);
  CHECK(incarnation_of(*first) == 0x5eed);
  REQUIRE(codec::send_envelope(tracker.router, codec::Layout::kRouter, &first->routing, proto::Command::kDisconnect,
                               0, codec::encode(proto::Empty{}))
              .ok());
  std::optional<codec::Envelope> again = tracker.next();
  REQUIRE(again);
  REQUIRE(again->cmd() == proto::Command::kReady);
  CHECK(again->routing.at(0).to_string() != first->routing.at(0).to_string());
  CHECK(incarnation_of(*again) == 0x5eed);  // the same process: a reconnect, not a restart
  tracker.heartbeat(*again);
  std::optional<codec::Envelope> announce = tracker.next();
  REQUIRE(announce);
  REQUIRE(announce->cmd() == proto::Command::kAnnounce);
  CHECK(announced_names(*announce) == std::vector<std::string>{"kept.txt"});
  CHECK(marked_complete(*announce));
}

TEST_CASE("a tracker that reads slower than the announcement is sent still hears of every file, complete last") {
  TempStore temp;
  constexpr std::size_t kFiles = 2 * limits::kMaxAnnounceBatch + 10;  // 3 batches: one more than the queue holds
  std::set<std::string> held;
  for (std::size_t i = 0; i < kFiles; ++i) held.insert(temp.add_file(std::to_string(i) + ".txt").name);
  zmq::context_t ctx;
  Tracker tracker(ctx, "inproc://storage-test-slow-tracker", 1);
  ServiceLinkOptions link = link_to(tracker.endpoint);
  link.send_queue = 1;  // with the router's 1: two messages fill the queue
  peer::StorageService storage(ctx, temp.store, link, "inproc://storage-test-slow-committed");
  storage.start();
  std::optional<codec::Envelope> ready = tracker.next();
  REQUIRE(ready);
  tracker.heartbeat(*ready);
  std::set<std::string> announced;
  bool complete = false;
  while (!complete) {
    // The slow tracker: each message waits, so the service's queue is full
    // long before the tracker has read the first batch.
    std::this_thread::sleep_for(20ms);
    std::optional<codec::Envelope> announce = tracker.next();
    REQUIRE(announce);
    REQUIRE(announce->cmd() == proto::Command::kAnnounce);
    CHECK_FALSE(complete);
    for (const std::string& name : announced_names(*announce)) CHECK(announced.insert(name).second);
    complete = marked_complete(*announce);
  }
  CHECK(announced == held);
}

TEST_CASE("storage service with no file still ends its announcement with an empty complete batch") {
  TempStore temp;
  zmq::context_t ctx;
  Tracker tracker(ctx);
  peer::StorageService storage(ctx, temp.store, link_to(tracker.endpoint), "inproc://storage-test-empty");
  storage.start();
  std::optional<codec::Envelope> ready = tracker.next();
  REQUIRE(ready);
  tracker.heartbeat(*ready);
  std::optional<codec::Envelope> announce = tracker.next();
  REQUIRE(announce);
  REQUIRE(announce->cmd() == proto::Command::kAnnounce);
  CHECK(announced_names(*announce).empty());
  CHECK(marked_complete(*announce));
}

namespace {

using test::FakeTracker;

std::vector<Hash> removed_ids(const codec::Envelope& env) {
  proto::FileList body;
  REQUIRE(codec::decode(env.body, &body).ok());
  return body.file_ids;
}

// Stores a file of two chunks, the first of them `shared_chunk`.
Manifest add_two_chunk_file(ChunkStore& store, const std::string& name, const std::string& shared_chunk) {
  std::string own = name + " own bytes";
  Hash shared = sha256(shared_chunk.data(), shared_chunk.size());
  Hash mine = sha256(own.data(), own.size());
  REQUIRE(store.put_chunk(shared, shared_chunk.data(), shared_chunk.size()).ok());
  REQUIRE(store.put_chunk(mine, own.data(), own.size()).ok());
  Manifest m{name, limits::kMinChunkSize + own.size(), limits::kMinChunkSize, {shared, mine}, 2};
  REQUIRE(store.put_manifest(m).ok());
  return m;
}

bool has_drain(FakeTracker& tracker, std::chrono::milliseconds timeout = 5000ms) {
  return tracker.next_of(proto::Command::kDrain, "storage", timeout).has_value();
}

// A storage service of `store` started against a FakeTracker that has read
// its READY (and not answered it yet). Destroyed service first, context last.
struct Started {
  zmq::context_t ctx;
  FakeTracker tracker{ctx};
  peer::StorageService storage;
  codec::Envelope ready;

  Started(ChunkStore& store, const std::string& events) : storage(ctx, store, link_to(tracker.endpoint()), events) {
    storage.start();
    std::optional<codec::Envelope> r = tracker.next_of(proto::Command::kReady);
    REQUIRE(r);
    ready = std::move(*r);
  }
  // The tracker's answer to READY: the service has joined and announces.
  void answer_ready() { tracker.send(ready, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{})); }
};

}  // namespace

TEST_CASE("DELETE drops the file and its unshared chunks, keeps shared ones, and answers REMOVED") {
  TempStore temp;
  const std::string shared(limits::kMinChunkSize, 's');
  Manifest kept = add_two_chunk_file(temp.store, "kept.bin", shared);
  Manifest dropped = add_two_chunk_file(temp.store, "dropped.bin", shared);
  const std::uint64_t before = temp.store.stored_bytes();
  Started svc(temp.store, "inproc://storage-test-delete");

  svc.tracker.send(svc.ready, proto::Command::kDelete, codec::encode(proto::FileRef{dropped.file_id()}));
  std::optional<codec::Envelope> removed = svc.tracker.next_of(proto::Command::kRemoved);
  REQUIRE(removed);
  CHECK(removed_ids(*removed) == std::vector<Hash>{dropped.file_id()});
  CHECK_FALSE(temp.store.manifest(dropped.file_id()).ok());
  CHECK_FALSE(temp.store.has_chunk(dropped.chunks[1]));
  CHECK(temp.store.complete(kept));  // the shared chunk stays with the file that uses it
  CHECK(temp.store.stored_bytes() == before - (dropped.size - limits::kMinChunkSize));

  SECTION("a DELETE of a file not held here is answered REMOVED too") {
    Hash unknown = sha256("never stored", 12);
    svc.tracker.send(svc.ready, proto::Command::kDelete, codec::encode(proto::FileRef{unknown}));
    std::optional<codec::Envelope> again = svc.tracker.next_of(proto::Command::kRemoved);
    REQUIRE(again);
    CHECK(removed_ids(*again) == std::vector<Hash>{unknown});
    CHECK(temp.store.complete(kept));
  }
}

TEST_CASE("drain sends DRAIN, keeps serving until RELEASE, and only then leaves") {
  TempStore temp;
  temp.add_file("held.txt");
  const std::string events = "inproc://storage-test-drain";
  Started svc(temp.store, events);
  svc.answer_ready();
  REQUIRE(svc.tracker.next_of(proto::Command::kAnnounce));

  svc.storage.drain();
  REQUIRE(has_drain(svc.tracker));
  CHECK(svc.storage.draining());
  CHECK_FALSE(svc.storage.released());

  // Still serving: a committed file is announced, heartbeats go on, no DISCONNECT.
  Manifest fresh = temp.add_file("fresh.txt");
  zmq::socket_t push = make_socket(svc.ctx, zmq::socket_type::push, 64);
  push.connect(events);
  Hash id = fresh.file_id();
  REQUIRE(push.send(zmq::buffer(id.bytes), zmq::send_flags::dontwait));
  std::optional<codec::Envelope> announce = svc.tracker.next_of(proto::Command::kAnnounce);
  REQUIRE(announce);
  CHECK(announced_names(*announce) == std::vector<std::string>{"fresh.txt"});
  CHECK(svc.tracker.next_of(proto::Command::kHeartbeat, "storage"));
  CHECK(svc.tracker.none_within([](const codec::Envelope& e) { return e.cmd() == proto::Command::kDisconnect; },
                                 200ms));
  CHECK_FALSE(svc.storage.released());
  push.close();

  svc.tracker.send(svc.ready, proto::Command::kRelease, codec::encode(proto::Empty{}));
  REQUIRE(test::eventually([&] { return svc.storage.released(); }, 5s, 1ms));
  svc.storage.stop();
  CHECK(svc.tracker.next_of(proto::Command::kDisconnect));
}

TEST_CASE("DRAIN from the tracker starts the drain, which the peer confirms with DRAIN") {
  TempStore temp;
  Started svc(temp.store, "inproc://storage-test-leave");
  svc.tracker.send(svc.ready, proto::Command::kDrain, codec::encode(proto::Empty{}));
  REQUIRE(has_drain(svc.tracker));
  CHECK(svc.storage.draining());
  CHECK_FALSE(svc.storage.released());
  svc.tracker.send(svc.ready, proto::Command::kRelease, codec::encode(proto::Empty{}));
  CHECK(test::eventually([&] { return svc.storage.released(); }, 5s, 1ms));
}

TEST_CASE("RELEASE to a peer that is not draining is ignored") {
  TempStore temp;
  Started svc(temp.store, "inproc://storage-test-stray-release");
  svc.tracker.send(svc.ready, proto::Command::kRelease, codec::encode(proto::Empty{}));
  // The next heartbeat comes after the RELEASE was handled.
  svc.answer_ready();
  REQUIRE(svc.tracker.next_of(proto::Command::kHeartbeat, "storage"));
  REQUIRE(svc.tracker.next_of(proto::Command::kHeartbeat, "storage"));
  CHECK_FALSE(svc.storage.released());
  CHECK_FALSE(svc.storage.draining());
}

TEST_CASE("a draining peer that rejoins re-announces its files, then sends DRAIN again") {
  TempStore temp;
  temp.add_file("kept.txt");
  Started svc(temp.store, "inproc://storage-test-drain-rejoin");
  FakeTracker& tracker = svc.tracker;
  svc.answer_ready();
  REQUIRE(tracker.next_of(proto::Command::kAnnounce));
  svc.storage.drain();
  REQUIRE(has_drain(tracker));

  // A restarted tracker does not know the link: DISCONNECT, READY, join.
  tracker.send(svc.ready, proto::Command::kDisconnect, codec::encode(proto::Empty{}));
  std::optional<codec::Envelope> again = tracker.next_of(proto::Command::kReady);
  REQUIRE(again);
  CHECK(FakeTracker::routing_id(*again) != FakeTracker::routing_id(svc.ready));
  tracker.send(*again, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  // Announce first, DRAIN after, both on the new connection.
  std::optional<codec::Envelope> next = tracker.next_where([](const codec::Envelope& e) {
    return e.cmd() == proto::Command::kAnnounce || e.cmd() == proto::Command::kDrain;
  });
  REQUIRE(next);
  CHECK(next->cmd() == proto::Command::kAnnounce);
  CHECK(FakeTracker::routing_id(*next) == FakeTracker::routing_id(*again));
  std::optional<codec::Envelope> drain = tracker.next_of(proto::Command::kDrain);
  REQUIRE(drain);
  CHECK(FakeTracker::routing_id(*drain) == FakeTracker::routing_id(*again));
}

TEST_CASE("a drain asked before the tracker answers sends DRAIN once it does") {
  TempStore temp;
  Started svc(temp.store, "inproc://storage-test-early-drain");
  svc.storage.drain();
  REQUIRE(test::eventually([&] { return svc.storage.draining(); }, 5s, 1ms));
  CHECK_FALSE(has_drain(svc.tracker, 200ms));
  svc.answer_ready();
  CHECK(has_drain(svc.tracker));
}

namespace {

// A storage service whose link to a tracker that reads nothing yet is full:
// `files` one-chunk files make an announcement of more batches than the
// link's queue holds (1 + the router's 1 on inproc), so the last batch waits.
struct FullLink {
  static constexpr std::size_t kFiles = 2 * limits::kMaxAnnounceBatch + 10;  // 3 batches
  TempStore temp;
  std::vector<Manifest> files;
  zmq::context_t ctx;
  Tracker tracker;
  std::optional<peer::StorageService> storage;
  std::optional<codec::Envelope> ready;

  FullLink(const std::string& name, std::size_t max_pending_removals = peer::kMaxPendingRemovals)
      : tracker(ctx, "inproc://storage-test-" + name, 1) {
    for (std::size_t i = 0; i < kFiles; ++i) files.push_back(temp.add_file(std::to_string(i) + ".txt"));
    ServiceLinkOptions link = link_to(tracker.endpoint);
    link.send_queue = 1;
    storage.emplace(ctx, temp.store, link, "inproc://storage-test-" + name + "-committed", max_pending_removals);
    storage->start();
    ready = tracker.next();
    REQUIRE(ready);
    REQUIRE(ready->cmd() == proto::Command::kReady);
  }
  ~FullLink() { storage.reset(); }

  void send(proto::Command command, zmq::message_t body) {
    REQUIRE(codec::send_envelope(tracker.router, codec::Layout::kRouter, &ready->routing, command, 0, std::move(body))
                .ok());
  }
  // Everything the tracker then reads, up to and including the first of
  // `last` sent after the complete announcement (or nothing more for 1 s).
  std::vector<codec::Envelope> read_all(proto::Command last) {
    std::vector<codec::Envelope> out;
    bool complete = false;
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      std::vector<zmq::pollitem_t> items{{tracker.router.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, complete ? 1000ms : until(deadline));
      codec::Envelope env;
      if (!codec::recv_envelope(tracker.router, codec::Layout::kRouter, &env).ok()) {
        if (complete) break;  // a quiet second after the announcement: nothing more comes
        continue;
      }
      if (env.cmd() == proto::Command::kHeartbeat) continue;
      if (env.cmd() == proto::Command::kAnnounce && marked_complete(env)) complete = true;
      const bool done = complete && env.cmd() == last;
      out.push_back(std::move(env));
      if (done) break;
    }
    return out;
  }
};

// Where in `messages` the first `command` is whose files include `id`; -1 if none.
int position_of(const std::vector<codec::Envelope>& messages, proto::Command command, const Manifest& file) {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].cmd() != command) continue;
    if (command == proto::Command::kRemoved) {
      for (const Hash& id : removed_ids(messages[i]))
        if (id == file.file_id()) return static_cast<int>(i);
    } else if (command == proto::Command::kAnnounce) {
      for (const std::string& name : announced_names(messages[i]))
        if (name == file.name) return static_cast<int>(i);
    }
  }
  return -1;
}

int position_of(const std::vector<codec::Envelope>& messages, proto::Command command) {
  for (std::size_t i = 0; i < messages.size(); ++i)
    if (messages[i].cmd() == command) return static_cast<int>(i);
  return -1;
}

}  // namespace

TEST_CASE("REMOVED and DRAIN owed while the announcement fills the link reach the tracker, REMOVED ahead") {
  FullLink full("full-link");
  const Manifest& deleted = full.files.back();
  // The tracker answers (the service joins and fills its link with the
  // announcement), then orders a delete; it reads nothing yet.
  full.send(proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  full.send(proto::Command::kDelete, codec::encode(proto::FileRef{deleted.file_id()}));
  REQUIRE(test::eventually([&] { return !full.temp.store.manifest(deleted.file_id()).ok(); }, 5s, 1ms));
  // A stop signal while the link is still full.
  full.storage->drain();
  REQUIRE(test::eventually([&] { return full.storage->draining(); }, 5s, 1ms));

  const std::vector<codec::Envelope> read = full.read_all(proto::Command::kDrain);
  const int removed = position_of(read, proto::Command::kRemoved, deleted);
  const int drain = position_of(read, proto::Command::kDrain);
  const int complete = static_cast<int>(std::find_if(read.begin(), read.end(), [](const codec::Envelope& e) {
                                          return e.cmd() == proto::Command::kAnnounce && marked_complete(e);
                                        }) - read.begin());
  REQUIRE(complete < static_cast<int>(read.size()));
  CHECK(removed >= 0);          // not lost to the full link
  CHECK(removed < complete);    // ahead of the batch still queued
  CHECK(position_of(read, proto::Command::kAnnounce, deleted) < removed);  // if announced, before it went
  CHECK(drain > complete);      // not lost, and only once the tracker has heard of every file
  std::set<std::string> announced{deleted.name};
  for (const codec::Envelope& e : read)
    if (e.cmd() == proto::Command::kAnnounce)
      for (const std::string& name : announced_names(e)) announced.insert(name);
  CHECK(announced.size() == FullLink::kFiles);
}

TEST_CASE("a DELETE that arrives while the REMOVED queue is full is not carried out") {
  FullLink full("full-removals", 1);
  const Manifest& first = full.files.back();
  const Manifest& second = full.files[full.files.size() - 2];
  full.send(proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  full.send(proto::Command::kDelete, codec::encode(proto::FileRef{first.file_id()}));
  full.send(proto::Command::kDelete, codec::encode(proto::FileRef{second.file_id()}));
  // Commands are handled in order: once the drain has started, both DELETEs were.
  full.send(proto::Command::kDrain, codec::encode(proto::Empty{}));
  REQUIRE(test::eventually([&] { return full.storage->draining(); }, 5s, 1ms));
  CHECK_FALSE(full.temp.store.manifest(first.file_id()).ok());
  CHECK(full.temp.store.complete(second));  // kept: its REMOVED could not have been queued

  const std::vector<codec::Envelope> read = full.read_all(proto::Command::kDrain);
  CHECK(position_of(read, proto::Command::kRemoved, first) >= 0);
  CHECK(position_of(read, proto::Command::kRemoved, second) < 0);
  CHECK(position_of(read, proto::Command::kDrain) >= 0);
}
