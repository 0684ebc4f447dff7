#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <random>

#include "common/chunk_store.h"
#include "common/sha256.h"
#include "common/sockets.h"
#include "services/peer/storage_service.h"

using namespace p2p;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A fake tracker ROUTER in the test thread; the service runs its own thread.
struct Tracker {
  zmq::context_t& ctx;
  zmq::socket_t router;
  std::string endpoint;
  explicit Tracker(zmq::context_t& c) : ctx(c), router(make_socket(c, zmq::socket_type::router, limits::kMaxControlMessage)) {
    router.bind("tcp://127.0.0.1:*");
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
  TempStore() : dir(make_dir()), store(dir, 1 << 20) { REQUIRE(store.load().ok()); }
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
  Manifest add_file(const std::string& name) {
    std::string chunk = name + " contents";
    Hash h = sha256(chunk.data(), chunk.size());
    REQUIRE(store.put_chunk(h, chunk.data(), chunk.size()).ok());
    Manifest m{name, chunk.size(), limits::kMinChunkSize, {h}, 2};
    REQUIRE(store.put_manifest(m).ok());
    return m;
  }
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

}  // namespace

TEST_CASE("storage service announces complete files on join and committed files as they come") {
  TempStore temp;
  Manifest held = temp.add_file("held.txt");
  Manifest partial{"partial.txt", 10, limits::kMinChunkSize, {sha256("x", 1)}, 0};
  REQUIRE(temp.store.put_manifest(partial).ok());

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

    Manifest fresh = temp.add_file("fresh.txt");
    zmq::socket_t push = make_socket(ctx, zmq::socket_type::push, 64);
    push.connect(events);
    Hash id = fresh.file_id();
    REQUIRE(push.send(zmq::buffer(id.bytes), zmq::send_flags::dontwait));
    std::optional<codec::Envelope> committed = tracker.next();
    REQUIRE(committed);
    REQUIRE(committed->cmd() == proto::Command::kAnnounce);
    CHECK(announced_names(*committed) == std::vector<std::string>{"fresh.txt"});
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
  peer::StorageService storage(ctx, temp.store, link_to(tracker.endpoint), "inproc://storage-test-rejoin");
  storage.start();
  std::optional<codec::Envelope> first = tracker.next();
  REQUIRE(first);
  REQUIRE(codec::send_envelope(tracker.router, codec::Layout::kRouter, &first->routing, proto::Command::kDisconnect,
                               0, codec::encode(proto::Empty{}))
              .ok());
  std::optional<codec::Envelope> again = tracker.next();
  REQUIRE(again);
  REQUIRE(again->cmd() == proto::Command::kReady);
  CHECK(again->routing.at(0).to_string() != first->routing.at(0).to_string());
  tracker.heartbeat(*again);
  std::optional<codec::Envelope> announce = tracker.next();
  REQUIRE(announce);
  REQUIRE(announce->cmd() == proto::Command::kAnnounce);
  CHECK(announced_names(*announce) == std::vector<std::string>{"kept.txt"});
}
