#include <catch2/catch.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <set>

#include "common/chunk_fetcher.h"
#include "common/limits.h"
#include "common/sockets.h"
#include "fake_peer.h"
#include "tests/support/chunked_file.h"
#include "tests/support/eventually.h"

using namespace p2p;
using test::FakePeer;
using test::FakeReply;
using test::VanishingPeer;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;

// A file of `chunks` chunks (the last one short) and its manifest.
struct TestFile : test::ChunkedFile {
  explicit TestFile(std::uint64_t chunks) : ChunkedFile("file.bin", chunks) {}
  std::vector<std::uint64_t> all() const {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 0; i < manifest.chunk_count(); ++i) v.push_back(i);
    return v;
  }
};

struct MemorySink : ChunkSink {
  std::map<std::uint64_t, std::string> chunks;
  Status write(std::uint64_t index, const void* data, std::size_t size) override {
    chunks[index] = std::string(static_cast<const char*>(data), size);
    return Status::Ok();
  }
};

// Serves GET_CHUNK for the chunks in `has` (every chunk when empty), not_found otherwise.
FakePeer::Handler serving(const TestFile& file, std::set<std::uint64_t> has = {}) {
  return [&file, has](const codec::Envelope& env) {
    proto::ChunkRef ref;
    if (env.cmd() != proto::Command::kGetChunk || !codec::decode(env.body, &ref).ok())
      return FakeReply::error(ErrorCode::kBadRequest, "not a GET_CHUNK");
    auto index = file.index_of(ref.hash);
    if (!index || (!has.empty() && !has.count(*index))) return FakeReply::error(ErrorCode::kNotFound, "no such chunk");
    FakeReply r;
    r.body = codec::encode(ref);
    r.data = file.slice(*index);
    return r;
  };
}

FakePeer::Handler wrong_bytes() {
  return [](const codec::Envelope& env) {
    FakeReply r;
    r.body = codec::encode(proto::ChunkRef{});
    r.data = std::string(kChunk, 'X');
    (void)env;
    return r;
  };
}

FakePeer::Handler silent() {
  return [](const codec::Envelope&) { return FakeReply::silence(); };
}

proto::HolderInfo holder(const std::string& id) { return {id, "inproc://fetcher-" + id}; }

void check_complete(const TestFile& file, const MemorySink& sink) {
  REQUIRE(sink.chunks.size() == file.manifest.chunk_count());
  for (const auto& [index, bytes] : sink.chunks) CHECK(bytes == file.slice(index));
}

// Short enough that the silent-holder cases finish fast; TSan slows every
// thread 5-15x, so its build waits longer before calling a holder silent.
#if defined(__SANITIZE_THREAD__)
constexpr std::chrono::milliseconds kQuickTimeout{3000};
#else
constexpr std::chrono::milliseconds kQuickTimeout{300};
#endif

// Hedging is off here (hedge_after >= chunk_timeout) unless a case turns it on.
FetchOptions quick() {
  FetchOptions o;
  o.chunk_timeout = kQuickTimeout;
  o.hedge_after = kQuickTimeout;
  return o;
}

// A 30 s chunk timeout and no hedging: a case that ends within 10 s shows
// that its own mechanism noticed the failed holder, not the timeout or hedging.
FetchOptions patient() {
  FetchOptions o;
  o.chunk_timeout = std::chrono::milliseconds(30000);
  o.hedge_after = o.chunk_timeout;
  return o;
}

// Opens a fresh (watched, on tcp://) DEALER for every acquire and records which endpoints were asked for.
struct CountingConnections : ConnectionSource {
  explicit CountingConnections(zmq::context_t& c) : ctx(c) {}
  Result<HolderConnection*> acquire(const std::string& endpoint) override {
    acquired.push_back(endpoint);
    open[endpoint] = HolderConnection::open(ctx, endpoint);
    return &open[endpoint];
  }
  void release(const std::string& endpoint, bool) override { open.erase(endpoint); }

  zmq::context_t& ctx;
  std::vector<std::string> acquired;
  std::map<std::string, HolderConnection> open;
};

// Fetches all of `file` from holders a, b and c (in that order) and checks it
// arrived whole; returns the endpoints the fetch connected to, in order.
std::vector<std::string> fetch_from_abc(zmq::context_t& ctx, const TestFile& file) {
  MemorySink sink;
  CountingConnections connections(ctx);
  FetchOptions options = quick();
  options.connections = &connections;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("a"), holder("b"), holder("c")}, options, sink).ok());
  check_complete(file, sink);
  CHECK(connections.open.empty());  // every connection given back
  return connections.acquired;
}

}  // namespace

TEST_CASE("a file that fits one holder's window connects to that holder only") {
  zmq::context_t ctx;
  TestFile file(FetchOptions{}.window);
  FakePeer a(ctx, holder("a").endpoint, serving(file));
  FakePeer b(ctx, holder("b").endpoint, serving(file));
  FakePeer c(ctx, holder("c").endpoint, serving(file));
  CHECK(fetch_from_abc(ctx, file) == std::vector<std::string>{holder("a").endpoint});
}

TEST_CASE("a chunk the first holder lacks is asked of a holder not yet connected") {
  zmq::context_t ctx;
  TestFile file(1);
  FakePeer a(ctx, holder("a").endpoint, serving(file, {7}));  // holds no chunk of this file
  FakePeer b(ctx, holder("b").endpoint, serving(file));
  FakePeer c(ctx, holder("c").endpoint, serving(file));
  CHECK(fetch_from_abc(ctx, file) == std::vector<std::string>{holder("a").endpoint, holder("b").endpoint});
  CHECK(a.requests() == 1);
  CHECK(b.requests() == 1);
  CHECK(c.requests() == 0);
}

TEST_CASE("a holder that cannot be connected hands its chunks to the next") {
  zmq::context_t ctx;
  TestFile file(2);
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  MemorySink sink;
  proto::HolderInfo unreachable{"bad", "no-such-transport://x"};
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {unreachable, holder("good")}, quick(), sink).ok());
  check_complete(file, sink);
  CHECK(good.requests() == 2);
}

TEST_CASE("fetches every chunk from two holders at once", "[timing]") {
  zmq::context_t ctx;
  TestFile file(20);
  FakePeer a(ctx, holder("a").endpoint, serving(file));
  FakePeer b(ctx, holder("b").endpoint, serving(file));
  MemorySink sink;
  std::uint64_t progress = 0;
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {holder("a"), holder("b")}, quick(), sink,
                          [&](std::uint64_t bytes) { progress += bytes; });
  REQUIRE(s.ok());
  check_complete(file, sink);
  CHECK(progress == file.manifest.size);
  CHECK(a.requests() > 0);
  CHECK(b.requests() > 0);
  CHECK(a.requests() + b.requests() == 20);
}

TEST_CASE("fetches only the chunks asked for") {
  zmq::context_t ctx;
  TestFile file(6);
  FakePeer a(ctx, holder("a").endpoint, serving(file));
  MemorySink sink;
  REQUIRE(fetch_chunks(ctx, file.manifest, {1, 4}, {holder("a")}, quick(), sink).ok());
  REQUIRE(sink.chunks.size() == 2);
  CHECK(sink.chunks.at(1) == file.slice(1));
  CHECK(sink.chunks.at(4) == file.slice(4));
  CHECK(a.requests() == 2);
}

TEST_CASE("a holder sending wrong bytes loses its chunks to the other") {
  zmq::context_t ctx;
  TestFile file(12);
  FakePeer bad(ctx, holder("bad").endpoint, wrong_bytes());
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  MemorySink sink;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("bad"), holder("good")}, quick(), sink).ok());
  check_complete(file, sink);
  CHECK(bad.requests() >= 1);
  CHECK(good.requests() == 12);
}

TEST_CASE("a holder sending wrong bytes is told which chunk with CHECK_CHUNK before it is dropped") {
  zmq::context_t ctx;
  TestFile file(12);
  std::mutex mu;
  std::vector<Hash> reported;  // guarded by mu
  // Over tcp, as between processes: the report must leave before the
  // connection that the drop closes.
  FakePeer bad(ctx, "tcp://127.0.0.1:*", [&](const codec::Envelope& env) {
    proto::ChunkRef ref;
    if (env.cmd() == proto::Command::kCheckChunk && codec::decode(env.body, &ref).ok()) {
      std::lock_guard lock(mu);
      reported.push_back(ref.hash);
      return FakeReply{};
    }
    return wrong_bytes()(env);
  });
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  const proto::HolderInfo bad_holder{"bad", bad.bound()};
  REQUIRE_FALSE(bad_holder.endpoint.empty());
  MemorySink sink;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {bad_holder, holder("good")}, quick(), sink).ok());
  check_complete(file, sink);
  REQUIRE(test::eventually(
      [&] {
        std::lock_guard lock(mu);
        return !reported.empty();
      },
      std::chrono::seconds(5)));
  std::lock_guard lock(mu);
  CHECK(reported.size() == 1);  // the first wrong chunk; then the holder is dropped
  CHECK(file.index_of(reported.front()).has_value());
}

TEST_CASE("a holder sending a reply of the wrong length is dropped without a CHECK_CHUNK") {
  zmq::context_t ctx;
  TestFile file(4);
  std::atomic<int> reports{0};
  FakePeer bad(ctx, holder("short").endpoint, [&](const codec::Envelope& env) {
    if (env.cmd() == proto::Command::kCheckChunk) ++reports;
    FakeReply r;
    r.body = codec::encode(proto::ChunkRef{});
    r.data = std::string(10, 'X');  // not a chunk's length: a broken reply, not bytes gone bad
    return r;
  });
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  MemorySink sink;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("short"), holder("good")}, quick(), sink).ok());
  check_complete(file, sink);
  CHECK(bad.requests() >= 1);
  // A report would be on its way already: the fetch sent it before closing.
  CHECK_FALSE(test::eventually([&] { return reports > 0; }, std::chrono::milliseconds(300)));
}

TEST_CASE("a silent holder times out and its chunks move, within its window") {
  zmq::context_t ctx;
  TestFile file(10);
  FakePeer quiet(ctx, holder("quiet").endpoint, silent());
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  MemorySink sink;
  FetchOptions options = quick();
  auto start = Clock::now();
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("quiet"), holder("good")}, options, sink).ok());
  check_complete(file, sink);
  CHECK(Clock::now() - start >= options.chunk_timeout);
  // Never more requests in flight than the window, however long it waits.
  CHECK(quiet.requests() >= 1);
  CHECK(quiet.requests() <= static_cast<int>(options.window));
}

TEST_CASE("holders that hang with their connections open cost the fetch hedge_after each, not the chunk timeout") {
  zmq::context_t ctx;
  const std::uint64_t chunks = GENERATE(1, 10);  // one chunk: the good holder is not even connected yet
  const int hanging = GENERATE(1, 2);            // listed before the good one
  TestFile file(chunks);
  std::vector<proto::HolderInfo> holders;
  std::deque<FakePeer> hung;
  for (int i = 0; i < hanging; ++i) {
    holders.push_back(holder("hung" + std::to_string(i)));
    hung.emplace_back(ctx, holders.back().endpoint, silent());
  }
  holders.push_back(holder("good"));
  FakePeer good(ctx, holders.back().endpoint, serving(file));
  MemorySink sink;
  FetchOptions options = patient();
  options.hedge_after = std::chrono::milliseconds(200);
  const auto start = Clock::now();
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), holders, options, sink).ok());
  check_complete(file, sink);
  const auto took = Clock::now() - start;
  CHECK(took < std::chrono::seconds(10));  // not the 30 s chunk timeout
  // A lone chunk is asked of one more holder per hedge_after, never of all at
  // once: the good holder, last, is its `hanging + 1`th.
  if (chunks == 1) CHECK(took >= hanging * options.hedge_after);
  for (const FakePeer& h : hung) {
    CHECK(h.requests() >= 1);
    CHECK(h.requests() <= static_cast<int>(options.window));
  }
  CHECK(good.requests() == static_cast<int>(chunks));
}

TEST_CASE("a chunk asked of two holders reaches the sink once") {
  zmq::context_t ctx;
  TestFile file(10);
  // `slow` answers chunk 0 a second late, and alone holds chunk 9, which it is
  // asked for only after that answer: the fetch is still running when the
  // late copy of chunk 0 arrives, after `fast` was asked for it too and answered.
  FakePeer slow(ctx, holder("slow").endpoint, [&file](const codec::Envelope& env) {
    proto::ChunkRef ref;
    if (codec::decode(env.body, &ref).ok() && file.index_of(ref.hash) == 0u)
      std::this_thread::sleep_for(std::chrono::seconds(1));  // a slow disk, not synchronisation
    return serving(file)(env);
  });
  FakePeer fast(ctx, holder("fast").endpoint, serving(file, {0, 1, 2, 3, 4, 5, 6, 7, 8}));
  struct CountingSink : MemorySink {
    std::map<std::uint64_t, int> writes;
    Status write(std::uint64_t index, const void* data, std::size_t size) override {
      ++writes[index];
      return MemorySink::write(index, data, size);
    }
  } sink;
  FetchOptions options = patient();
  options.window = 1;
  options.hedge_after = std::chrono::milliseconds(100);
  std::uint64_t progress = 0;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("slow"), holder("fast")}, options, sink,
                       [&](std::uint64_t bytes) { progress += bytes; })
              .ok());
  check_complete(file, sink);
  for (const auto& [index, n] : sink.writes) CHECK(n == 1);
  CHECK(progress == file.manifest.size);
  CHECK(slow.requests() == 2);   // chunk 0, then chunk 9
  CHECK(fast.requests() == 10);  // 1-8, 9 (not_found), and chunk 0 again
}

TEST_CASE("healthy holders are never asked for the same chunk twice") {
  zmq::context_t ctx;
  TestFile file(24);
  FakePeer a(ctx, holder("a").endpoint, serving(file));
  FakePeer b(ctx, holder("b").endpoint, serving(file));
  FakePeer c(ctx, holder("c").endpoint, serving(file));
  MemorySink sink;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("a"), holder("b"), holder("c")}, FetchOptions{}, sink)
              .ok());
  check_complete(file, sink);
  CHECK(a.requests() + b.requests() + c.requests() == 24);
}

// A silent holder on TCP that goes away (its socket closed, as when its
// process exits) once it has seen a request; the good one serves everything.
// The fetch must end long before the chunk timeout it would otherwise wait out.
void fetch_past_a_vanishing_holder(bool pooled) {
  zmq::context_t ctx;
  CountingConnections pool(ctx);
  TestFile file(10);
  VanishingPeer vanishing(ctx);
  const proto::HolderInfo gone{"gone", vanishing.endpoint()};
  REQUIRE_FALSE(gone.endpoint.empty());
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  MemorySink sink;
  FetchOptions options = patient();
  if (pooled) options.connections = &pool;
  const auto start = Clock::now();
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {gone, holder("good")}, options, sink);
  CHECK(vanishing.wait_gone() >= 1);
  REQUIRE(s.ok());
  check_complete(file, sink);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("a holder whose connection closes loses its chunks at once, not at the chunk timeout") {
  SECTION("fresh connection") { fetch_past_a_vanishing_holder(false); }
  SECTION("pooled connection") { fetch_past_a_vanishing_holder(true); }
}

TEST_CASE("a holder flooding replies to no request is dropped, not waited on") {
  zmq::context_t ctx;
  TestFile file(10);
  test::HeldPeer flood(ctx);
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  std::thread flooder([&] {
    // Never answers what it was asked; sends replies to seqs it was not.
    const codec::Envelope asked = flood.take();
    for (std::uint64_t i = 0; i < 2000; ++i) {
      zmq::message_t data(kChunk);
      (void)codec::send_envelope(flood.socket, codec::Layout::kRouter, &asked.routing, proto::Command::kOk,
                                 asked.seq + 1000 + i, codec::encode(proto::ChunkRef{}), &data);
    }
  });
  MemorySink sink;
  const auto start = Clock::now();
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {{"flood", flood.endpoint}, holder("good")}, patient(), sink);
  flooder.join();
  REQUIRE(s.ok());
  check_complete(file, sink);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("a holder that refuses connections loses its chunks at once, not at the chunk timeout") {
  zmq::context_t ctx;
  TestFile file(6);
  std::string dead;
  {
    FakePeer gone(ctx, "tcp://127.0.0.1:*", silent());  // a port that was just free, then closed
    dead = gone.bound();
  }
  REQUIRE_FALSE(dead.empty());
  FakePeer good(ctx, holder("good").endpoint, serving(file));
  MemorySink sink;
  const auto start = Clock::now();
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {{"dead", dead}, holder("good")}, patient(), sink).ok());
  check_complete(file, sink);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("not_found from a holder means only that chunk is missing there") {
  zmq::context_t ctx;
  TestFile file(8);
  std::set<std::uint64_t> most{0, 1, 2, 4, 5, 6, 7};
  FakePeer a(ctx, holder("a").endpoint, serving(file, most));
  FakePeer b(ctx, holder("b").endpoint, serving(file, {3}));
  MemorySink sink;
  REQUIRE(fetch_chunks(ctx, file.manifest, file.all(), {holder("a"), holder("b")}, quick(), sink).ok());
  check_complete(file, sink);
}

TEST_CASE("a chunk no holder has is unavailable and named") {
  zmq::context_t ctx;
  TestFile file(8);
  std::set<std::uint64_t> without_5{0, 1, 2, 3, 4, 6, 7};
  FakePeer a(ctx, holder("a").endpoint, serving(file, without_5));
  FakePeer b(ctx, holder("b").endpoint, serving(file, without_5));
  MemorySink sink;
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {holder("a"), holder("b")}, quick(), sink);
  CHECK(s.code() == ErrorCode::kUnavailable);
  CHECK_THAT(s.message(), Catch::Contains("chunk 5"));
  CHECK(sink.chunks.count(5) == 0);
}

TEST_CASE("all holders failing is unavailable") {
  zmq::context_t ctx;
  TestFile file(6);
  FakePeer bad(ctx, holder("bad").endpoint, wrong_bytes());
  FakePeer quiet(ctx, holder("quiet").endpoint, silent());
  FakePeer broken(ctx, holder("broken").endpoint,
                  [](const codec::Envelope&) { return FakeReply::error(ErrorCode::kInternal, "disk on fire"); });
  MemorySink sink;
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {holder("bad"), holder("quiet"), holder("broken")}, quick(),
                          sink);
  CHECK(s.code() == ErrorCode::kUnavailable);
  CHECK_THAT(s.message(), Catch::Contains("chunk 0"));
  CHECK(sink.chunks.empty());
}

TEST_CASE("no holders at all is unavailable at once") {
  zmq::context_t ctx;
  TestFile file(2);
  MemorySink sink;
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {}, quick(), sink);
  CHECK(s.code() == ErrorCode::kUnavailable);
}

TEST_CASE("a sink error stops the fetch and is returned as is") {
  struct FullDisk : ChunkSink {
    Status write(std::uint64_t, const void*, std::size_t) override { return {ErrorCode::kIo, "disk full"}; }
  };
  zmq::context_t ctx;
  TestFile file(4);
  FakePeer a(ctx, holder("a").endpoint, serving(file));
  FullDisk sink;
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {holder("a")}, quick(), sink);
  CHECK(s.code() == ErrorCode::kIo);
  CHECK(s.message() == "disk full");
}

TEST_CASE("a cancelled fetch stops with shutting_down long before the chunk timeout") {
  zmq::context_t ctx;
  TestFile file(4);
  FakePeer quiet(ctx, holder("quiet").endpoint, silent());
  MemorySink sink;
  FetchOptions options;
  options.chunk_timeout = std::chrono::milliseconds(30000);
  std::atomic<bool> stop{false};
  options.cancelled = [&] { return stop.load(); };
  // Cancel once the silent holder has seen a request: the fetch is then waiting.
  std::thread canceller([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (quiet.requests() == 0 && Clock::now() < deadline) std::this_thread::yield();
    stop = true;
  });
  const auto start = Clock::now();
  Status s = fetch_chunks(ctx, file.manifest, file.all(), {holder("quiet")}, options, sink);
  canceller.join();
  CHECK(s.code() == ErrorCode::kShuttingDown);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
  CHECK(quiet.requests() >= 1);
  CHECK(sink.chunks.empty());
}
