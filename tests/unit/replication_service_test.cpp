#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>

#include "common/chunk_store.h"
#include "common/sockets.h"
#include "fake_peer.h"
#include "fake_tracker.h"
#include "services/peer/file_copy.h"
#include "services/peer/replication_service.h"
#include "services/peer/storage_service.h"
#include "services/peer/transfer_service.h"
#include "tests/support/chunked_file.h"
#include "tests/support/file_bytes.h"
#include "tests/support/gate.h"

using namespace p2p;
using namespace std::chrono_literals;
using test::FakePeer;
using test::FakeReply;
using test::FakeTracker;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;

fs::path temp_dir() {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() / ("p2p-replication-test-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

struct TempStore {
  fs::path dir = temp_dir();
  ChunkStore store;
  explicit TempStore(std::uint64_t capacity = 16 << 20) : store(dir, capacity) { REQUIRE(store.load().ok()); }
  ~TempStore() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// A file of `chunks` chunks (the last one a third of a chunk) at k=2, its
// bytes and manifest.
struct TestFile : test::ChunkedFile {
  TestFile(const std::string& name, std::uint64_t chunks, char seed)
      : ChunkedFile(name, chunks, seed, kChunk - kChunk / 3) {
    manifest.replicas = 2;
  }
  void store_in(ChunkStore& store) const {
    for (std::uint64_t i = 0; i < manifest.chunk_count(); ++i) {
      const std::string_view piece = slice(i);
      REQUIRE(store.put_chunk(manifest.chunks[i], piece.data(), piece.size()).ok());
    }
    REQUIRE(store.put_manifest(manifest).ok());
  }
};

// A peer holding files, serving them on a real transfer service. No tracker:
// its link keeps retrying a closed port.
struct SourcePeer {
  TempStore temp;
  std::unique_ptr<peer::TransferService> service;
  proto::HolderInfo holder;
  explicit SourcePeer(zmq::context_t& ctx) {
    peer::TransferOptions o;
    o.workers = 2;
    o.drain_timeout = 1000ms;
    o.link.tracker_endpoint = "tcp://127.0.0.1:1";
    o.link.ready.peer_id = "source0000000000";
    service = std::make_unique<peer::TransferService>(ctx, temp.store, o);
    Result<std::string> ep = service->start();
    REQUIRE(ep.ok());
    holder = {"source0000000000", ep.value()};
  }
  ~SourcePeer() { service.reset(); }
};

ServiceLinkOptions link_to(const FakeTracker& tracker) {
  ServiceLinkOptions o;
  o.tracker_endpoint = tracker.endpoint();
  o.ready.peer_id = "target0000000000";
  o.ready.endpoint = "tcp://127.0.0.1:7002";
  o.heartbeat = 50ms;
  o.liveness = 100;  // this fake tracker never heartbeats: no reconnects mid-test
  return o;
}

std::string unique_committed_endpoint() {
  static std::atomic<int> n{0};
  return "inproc://replication-test-committed-" + std::to_string(++n);
}

// The peer under test: a target store with its storage and replication services.
struct TargetPeer {
  TempStore temp;
  std::string committed = unique_committed_endpoint();
  std::unique_ptr<peer::StorageService> storage;
  std::unique_ptr<peer::ReplicationService> replication;
  TargetPeer(zmq::context_t& ctx, FakeTracker& tracker, unsigned max_copies = 2) {
    storage = std::make_unique<peer::StorageService>(ctx, temp.store, link_to(tracker), committed);
    peer::ReplicationOptions o;
    o.link = link_to(tracker);
    o.max_copies = max_copies;
    o.committed_endpoint = committed;
    o.fetch.chunk_timeout = 2000ms;
    replication = std::make_unique<peer::ReplicationService>(ctx, temp.store, o);
    storage->start();
    replication->start();
  }
  ~TargetPeer() {
    replication.reset();
    storage.reset();
  }
};

void order(FakeTracker& tracker, const codec::Envelope& to, const Manifest& m,
           const std::vector<proto::HolderInfo>& sources) {
  tracker.send(to, proto::Command::kReplicate, codec::encode(proto::ReplicateOrder{m, sources}));
}

proto::ReplicatedBody replicated_of(FakeTracker& tracker, const Hash& file_id) {
  std::optional<codec::Envelope> env = tracker.next_where([&](const codec::Envelope& e) {
    proto::ReplicatedBody body;
    return e.cmd() == proto::Command::kReplicated && codec::decode(e.body, &body).ok() && body.file_id == file_id;
  });
  REQUIRE(env);
  proto::ReplicatedBody body;
  REQUIRE(codec::decode(env->body, &body).ok());
  return body;
}

// The one order of a case: REPLICATE of `m` to the replication service that
// registered with `tracker`, and its REPLICATED.
proto::ReplicatedBody copy_ordered(FakeTracker& tracker, const Manifest& m,
                                   const std::vector<proto::HolderInfo>& sources) {
  std::optional<codec::Envelope> ready = tracker.next_of(proto::Command::kReady, "replication");
  REQUIRE(ready);
  order(tracker, *ready, m, sources);
  return replicated_of(tracker, m.file_id());
}

bool announced(FakeTracker& tracker, const std::string& name) {
  return tracker
      .next_where([&](const codec::Envelope& e) {
        proto::AnnounceBody body;
        if (e.cmd() != proto::Command::kAnnounce || !codec::decode(e.body, &body).ok()) return false;
        for (const Manifest& m : body.files)
          if (m.name == name) return true;
        return false;
      })
      .has_value();
}

// A source peer holding one file, and the peer under test, with nothing of
// it yet. Members are built in order: the file is on the source before any
// order can be sent.
struct CopyCase {
  zmq::context_t ctx;
  FakeTracker tracker{ctx};
  SourcePeer source{ctx};
  TestFile file;
  TargetPeer target{ctx, tracker};
  CopyCase(const std::string& name, std::uint64_t chunks, char seed) : file(name, chunks, seed) {
    file.store_in(source.temp.store);
  }
  // The path of chunk `i` in a store rooted at `dir`.
  fs::path chunk_file(const fs::path& dir, std::size_t i) const {
    return ChunkStore::chunk_path_in(dir, file.manifest.chunks[i]);
  }
};

}  // namespace

TEST_CASE("REPLICATE copies the file from its holder, announces it and reports success") {
  CopyCase c("copied.bin", 5, 'a');
  ChunkStore& store = c.target.temp.store;
  // One chunk is already here (another file shares it): only the rest moves.
  REQUIRE(store.put_chunk(c.file.manifest.chunks[0], c.file.slice(0).data(), c.file.slice(0).size()).ok());

  proto::ReplicatedBody result = copy_ordered(c.tracker, c.file.manifest, {c.source.holder});
  CHECK(result.code == 0);
  CHECK(result.message.empty());
  CHECK(store.complete(c.file.manifest));
  Result<Manifest> stored = store.manifest(c.file.manifest.file_id());
  REQUIRE(stored.ok());
  CHECK(stored->replicas == 2);
  CHECK(store.stored_bytes() == c.file.manifest.size);
  // The storage service announces once the tracker has answered it, as a real one does.
  std::optional<codec::Envelope> storage_ready = c.tracker.next_of(proto::Command::kReady, "storage");
  REQUIRE(storage_ready);
  c.tracker.send(*storage_ready, proto::Command::kHeartbeat, codec::encode(proto::HeartbeatBody{}));
  CHECK(announced(c.tracker, "copied.bin"));
}

TEST_CASE("REPLICATE to a peer holding part of the file checks those chunks from disk and fetches a corrupt one again") {
  CopyCase c("partial.bin", 4, 'p');
  ChunkStore& store = c.target.temp.store;
  // Chunks 0-2 are here (as on a peer that lost chunk 3), and chunk 1 has gone
  // bad on disk since it was stored.
  for (int i = 0; i < 3; ++i)
    REQUIRE(store.put_chunk(c.file.manifest.chunks[i], c.file.slice(i).data(), c.file.slice(i).size()).ok());
  REQUIRE(test::flip_bits(c.chunk_file(c.target.temp.dir, 1), 10, 0x40));

  proto::ReplicatedBody result = copy_ordered(c.tracker, c.file.manifest, {c.source.holder});
  CHECK(result.code == 0);
  REQUIRE(store.complete(c.file.manifest));
  for (std::size_t i = 0; i < 4; ++i) {
    Result<zmq::message_t> got = store.read_chunk(c.file.manifest.chunks[i]);
    REQUIRE(got.ok());
    CHECK(got->to_string() == c.file.slice(i));
  }
}

TEST_CASE("a copy cancelled while it checks the chunks it kept stops before the next chunk and stores no manifest") {
  TempStore temp;
  TestFile file("kept.bin", 4, 'k');
  // Three chunks kept, all gone bad on disk: each check drops the one it reads.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(temp.store.put_chunk(file.manifest.chunks[i], file.slice(i).data(), file.slice(i).size()).ok());
    REQUIRE(test::flip_bits(ChunkStore::chunk_path_in(temp.dir, file.manifest.chunks[i]), 0));
  }
  zmq::context_t ctx;
  FetchOptions fetch;
  int asked = 0;
  fetch.cancelled = [&asked] { return ++asked > 1; };  // stop once the first kept chunk is checked
  Result<peer::CopyReport> copied =
      peer::copy_file(ctx, temp.store, proto::ReplicateOrder{file.manifest, {{"src", "tcp://127.0.0.1:1"}}}, fetch);
  CHECK(copied.status().code() == ErrorCode::kShuttingDown);
  int still_kept = 0;  // not checked yet
  for (int i = 0; i < 3; ++i) still_kept += temp.store.has_chunk(file.manifest.chunks[i]) ? 1 : 0;
  CHECK(still_kept == 2);
  CHECK(temp.store.manifest(file.manifest.file_id()).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("REPLICATE of a file already held here succeeds at once without a source") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx);
  TargetPeer target(ctx, tracker);
  TestFile file("held.bin", 2, 'h');
  file.store_in(target.temp.store);
  proto::ReplicatedBody result = copy_ordered(tracker, file.manifest, {{"gone", "tcp://127.0.0.1:1"}});
  CHECK(result.code == 0);
}

TEST_CASE("REPLICATE whose only source sends bad bytes reports unavailable and stores nothing") {
  CopyCase c("rotten.bin", 2, 'r');
  // Corrupt a chunk on the source's disk after it was verified and indexed.
  {
    std::ofstream out(c.chunk_file(c.source.temp.dir, 1), std::ios::binary | std::ios::trunc);
    out << std::string(c.file.slice(1).size(), 'X');
  }
  proto::ReplicatedBody result = copy_ordered(c.tracker, c.file.manifest, {c.source.holder});
  CHECK(result.code == static_cast<std::uint16_t>(ErrorCode::kUnavailable));
  CHECK_FALSE(result.message.empty());
  CHECK(c.target.temp.store.manifest(c.file.manifest.file_id()).status().code() == ErrorCode::kNotFound);
  CHECK_FALSE(c.target.temp.store.has_chunk(c.file.manifest.chunks[1]));
}

TEST_CASE("REPLICATE without usable sources or with a bad manifest is a bad_request") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx);
  TargetPeer target(ctx, tracker);
  std::optional<codec::Envelope> ready = tracker.next_of(proto::Command::kReady, "replication");
  REQUIRE(ready);
  TestFile file("lonely.bin", 1, 'l');
  Manifest broken = file.manifest;
  broken.chunk_size = 1;  // below the minimum chunk size

  SECTION("no sources") { order(tracker, *ready, file.manifest, {}); }
  SECTION("a source that is not tcp") { order(tracker, *ready, file.manifest, {{"p", "inproc://elsewhere"}}); }
  SECTION("an invalid manifest") { order(tracker, *ready, broken, {{"p", "tcp://127.0.0.1:1"}}); }

  std::optional<codec::Envelope> env = tracker.next_of(proto::Command::kReplicated, "replication");
  REQUIRE(env);
  proto::ReplicatedBody result;
  REQUIRE(codec::decode(env->body, &result).ok());
  CHECK(result.code == static_cast<std::uint16_t>(ErrorCode::kBadRequest));
  CHECK_FALSE(result.message.empty());
  CHECK(target.replication->running_copies() == 0);
}

namespace {

// A source of one file whose GET_CHUNK replies wait until release() (or 5 s).
struct GatedSource {
  test::Gate gate;
  std::atomic<bool> asked{false};

  FakePeer::Handler handler(const TestFile& file) {
    return [this, &file](const codec::Envelope& env) {
      proto::ChunkRef ref;
      if (!codec::decode(env.body, &ref).ok() || !file.index_of(ref.hash))
        return FakeReply::error(ErrorCode::kNotFound, "no such chunk");
      asked = true;
      (void)gate.wait(5s);
      FakeReply r;
      r.body = codec::encode(ref);
      r.data = file.slice(*file.index_of(ref.hash));
      return r;
    };
  }
  void release() { gate.open(); }
};

FakePeer::Handler serving(const TestFile& file) {
  return [&file](const codec::Envelope& env) {
    proto::ChunkRef ref;
    if (!codec::decode(env.body, &ref).ok() || !file.index_of(ref.hash))
      return FakeReply::error(ErrorCode::kNotFound, "no such chunk");
    FakeReply r;
    r.body = codec::encode(ref);
    r.data = file.slice(*file.index_of(ref.hash));
    return r;
  };
}

bool wait_until(const std::atomic<bool>& flag) {
  const auto deadline = Clock::now() + 5s;
  while (!flag && Clock::now() < deadline) std::this_thread::yield();
  return flag;
}

bool heartbeat_with_copies(FakeTracker& tracker, std::uint32_t copies) {
  return tracker
      .next_where([&](const codec::Envelope& e) {
        proto::HeartbeatBody hb;
        return e.cmd() == proto::Command::kHeartbeat && tracker.service_of(e) == "replication" &&
               codec::decode(e.body, &hb).ok() && hb.copies == copies;
      })
      .has_value();
}

}  // namespace

TEST_CASE("with max-copies 1 a second order waits until the first copy ends") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx);
  TestFile first("first.bin", 1, 'f');
  TestFile second("second.bin", 1, 's');
  GatedSource gate;
  FakePeer slow(ctx, "tcp://127.0.0.1:*", gate.handler(first));
  FakePeer fast(ctx, "tcp://127.0.0.1:*", serving(second));
  const std::string slow_endpoint = slow.bound();
  const std::string fast_endpoint = fast.bound();
  REQUIRE_FALSE(slow_endpoint.empty());
  REQUIRE_FALSE(fast_endpoint.empty());
  TargetPeer target(ctx, tracker, 1);

  std::optional<codec::Envelope> ready = tracker.next_of(proto::Command::kReady, "replication");
  REQUIRE(ready);
  order(tracker, *ready, first.manifest, {{"slow", slow_endpoint}});
  order(tracker, *ready, second.manifest, {{"fast", fast_endpoint}});
  REQUIRE(wait_until(gate.asked));

  // The heartbeat reports the one running copy; the second order, whose source
  // would answer at once, has not started: no request reached it, no result came.
  REQUIRE(heartbeat_with_copies(tracker, 1));
  CHECK(target.replication->running_copies() == 1);
  CHECK(fast.requests() == 0);
  CHECK(tracker.none_within([](const codec::Envelope& e) { return e.cmd() == proto::Command::kReplicated; }, 200ms));
  CHECK(fast.requests() == 0);

  gate.release();
  proto::ReplicatedBody a = replicated_of(tracker, first.manifest.file_id());
  CHECK(a.code == 0);
  proto::ReplicatedBody b = replicated_of(tracker, second.manifest.file_id());
  CHECK(b.code == 0);
  CHECK(fast.requests() == 1);
  CHECK(target.temp.store.complete(first.manifest));
  CHECK(target.temp.store.complete(second.manifest));
  CHECK(heartbeat_with_copies(tracker, 0));
}

TEST_CASE("stopping the replication service cancels a running copy and reports shutting_down") {
  zmq::context_t ctx;
  FakeTracker tracker(ctx);
  TestFile stuck("stuck.bin", 1, 'x');
  GatedSource gate;
  FakePeer source(ctx, "tcp://127.0.0.1:*", gate.handler(stuck));
  const std::string endpoint = source.bound();
  REQUIRE_FALSE(endpoint.empty());
  TargetPeer target(ctx, tracker, 1);
  std::optional<codec::Envelope> ready = tracker.next_of(proto::Command::kReady, "replication");
  REQUIRE(ready);
  order(tracker, *ready, stuck.manifest, {{"src", endpoint}});
  REQUIRE(wait_until(gate.asked));

  target.replication->stop();
  proto::ReplicatedBody result = replicated_of(tracker, stuck.manifest.file_id());
  CHECK(result.code == static_cast<std::uint16_t>(ErrorCode::kShuttingDown));
  CHECK(tracker.next_of(proto::Command::kDisconnect, "replication"));
  target.replication->join();
  gate.release();
  CHECK_FALSE(target.temp.store.manifest(stuck.manifest.file_id()).ok());
}
