// LoadClient against a fake tracker and a fake holder: what a get counts as
// success, corruption, retry and failure.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <string>

#include "client/load/generated_file.h"
#include "client/load/load_client.h"
#include "common/sha256.h"
#include "fake_peer.h"

using namespace p2p;
using namespace p2p::client::load;
using test::FakePeer;
using test::FakeReply;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;
constexpr std::uint64_t kSize = 3 * kChunk + 10;
const std::string kTracker = "inproc://load-client-tracker";
const std::string kHolder = "inproc://load-client-holder";
const std::string kName = "load-test-file";

// A generated file's manifest and chunks, served by FakePeers.
struct ServedFile {
  Manifest manifest;
  std::map<Hash, std::string> chunks;
  Hash sha256;

  ServedFile() {
    GeneratedFile file(11, kSize, kChunk);
    sha256 = file.sha256();
    manifest.name = kName;
    manifest.size = kSize;
    manifest.chunk_size = kChunk;
    manifest.replicas = 1;
    for (;;) {
      auto next = file.next();
      REQUIRE(next.ok());
      if (!next.value()) break;
      const Chunk& c = *next.value();
      manifest.chunks.push_back(c.hash);
      chunks[c.hash] = std::string(static_cast<const char*>(c.data.data()), c.data.size());
    }
  }
};

// LOCATE: the first `failures` get kUnavailable, then the file and its one holder.
FakePeer::Handler tracker(const ServedFile& file, int failures, std::atomic<int>& locates) {
  return [&file, failures, &locates](const codec::Envelope& env) {
    if (env.cmd() != proto::Command::kLocate) return FakeReply::error(ErrorCode::kUnknownCommand, "LOCATE only");
    if (locates++ < failures) return FakeReply::error(ErrorCode::kUnavailable, "not yet");
    FakeReply r;
    r.body = codec::encode(proto::LocateReply{file.manifest.file_id(), file.manifest, {{"holder", kHolder}}});
    return r;
  };
}

FakePeer::Handler holder(const ServedFile& file) {
  return [&file](const codec::Envelope& env) {
    proto::ChunkRef ref;
    if (env.cmd() != proto::Command::kGetChunk || !codec::decode(env.body, &ref).ok())
      return FakeReply::error(ErrorCode::kBadRequest, "not a GET_CHUNK");
    auto it = file.chunks.find(ref.hash);
    if (it == file.chunks.end()) return FakeReply::error(ErrorCode::kNotFound, "no such chunk");
    FakeReply r;
    r.body = codec::encode(ref);
    r.data = it->second;
    return r;
  };
}

// One get of the catalog's only file (--each-once, one file).
LoadConfig one_get(std::chrono::milliseconds retry_budget) {
  LoadConfig config;
  config.session.tracker = kTracker;
  config.session.timeout = 1000ms;
  config.session.chunk_timeout = 1000ms;
  config.files = 1;
  config.each_once = true;
  config.mix = OpMix::parse("get=1").value();
  config.sizes = SizeSpec::parse("16KiB:1").value();
  config.retry.backoff = 1ms;
  config.retry.budget = retry_budget;
  return config;
}

LoadReport run_one_get(const ServedFile& file, const Hash& expected, int tracker_failures,
                       std::chrono::milliseconds budget, std::atomic<int>& locates) {
  zmq::context_t ctx;
  FakePeer t(ctx, kTracker, tracker(file, tracker_failures, locates));
  FakePeer h(ctx, kHolder, holder(file));
  FileCatalog catalog;
  catalog.add({kName, kSize, expected});
  const LoadConfig config = one_get(budget);
  LoadClient client(ctx, config, catalog, 0);
  return client.run(std::chrono::steady_clock::now() + 60s);
}

}  // namespace

TEST_CASE("a get whose bytes match the catalog's SHA-256 counts once with its bytes") {
  ServedFile file;
  std::atomic<int> locates{0};
  LoadReport r = run_one_get(file, file.sha256, 0, 5s, locates);
  CHECK(r.op(Op::kGet).count == 1);
  CHECK(r.op(Op::kGet).bytes == kSize);
  CHECK(r.op(Op::kGet).errors == 0);
  CHECK(r.op(Op::kGet).retries == 0);
  CHECK(r.op(Op::kGet).latency.count() == 1);
  CHECK(r.corrupt_bytes == 0);
  CHECK(r.ok());
}

TEST_CASE("a get whose bytes do not match the catalog's SHA-256 is corrupt and not retried") {
  ServedFile file;
  std::atomic<int> locates{0};
  const Hash wrong = sha256("something else", 14);
  LoadReport r = run_one_get(file, wrong, 0, 5s, locates);
  CHECK(r.op(Op::kGet).count == 0);
  CHECK(r.op(Op::kGet).errors == 1);
  CHECK(r.op(Op::kGet).retries == 0);
  CHECK(locates == 1);
  CHECK(r.corrupt_bytes == kSize);
  CHECK(r.failed_gets() == 1);
  CHECK_FALSE(r.ok());
}

TEST_CASE("a get that fails and then succeeds counts its retries, not an error") {
  ServedFile file;
  std::atomic<int> locates{0};
  LoadReport r = run_one_get(file, file.sha256, 3, 5s, locates);
  CHECK(r.op(Op::kGet).count == 1);
  CHECK(r.op(Op::kGet).retries == 3);
  CHECK(r.op(Op::kGet).errors == 0);
  CHECK(locates == 4);
  CHECK(r.ok());
}

TEST_CASE("a get that fails past its retry budget is one error") {
  ServedFile file;
  std::atomic<int> locates{0};
  LoadReport r = run_one_get(file, file.sha256, 1000000, 100ms, locates);
  CHECK(r.op(Op::kGet).count == 0);
  CHECK(r.op(Op::kGet).errors == 1);
  CHECK(r.op(Op::kGet).retries >= 1);
  CHECK(r.op(Op::kGet).retries + 1 == static_cast<std::uint64_t>(locates.load()));
  CHECK(r.corrupt_bytes == 0);  // failed, not corrupt
  CHECK_FALSE(r.ok());
}
