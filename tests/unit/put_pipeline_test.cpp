#include <catch2/catch.hpp>

#include <mutex>
#include <set>

#include "client/connection_pool.h"
#include "client/put_pipeline.h"
#include "common/sha256.h"
#include "fake_peer.h"

using namespace p2p;
using p2p::client::PutPipeline;
using test::FakePeer;
using test::FakeReply;
using test::VanishingPeer;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;

Chunk make_chunk(std::uint64_t index) {
  std::string bytes(kChunk, static_cast<char>('a' + index % 26));
  Chunk c;
  c.index = index;
  c.offset = index * kChunk;
  c.data = zmq::message_t(bytes.data(), bytes.size());
  c.hash = sha256(bytes.data(), bytes.size());
  return c;
}

std::vector<proto::HolderInfo> chain() {
  return {{"first", "inproc://put-first"}, {"second", "tcp://127.0.0.1:7001"}, {"third", "tcp://127.0.0.1:7002"}};
}

}  // namespace

TEST_CASE("put pipeline streams chunks with the rest of the chain as forward, then commits") {
  zmq::context_t ctx;
  std::mutex mu;
  std::set<Hash> stored;
  bool forward_ok = true;
  FakePeer peer(ctx, "inproc://put-first", [&](const codec::Envelope& env) {
    std::lock_guard<std::mutex> lock(mu);
    if (env.cmd() == proto::Command::kPutChunk) {
      proto::PutChunkRequest req;
      REQUIRE(codec::decode(env.body, &req).ok());
      forward_ok = forward_ok && req.forward == std::vector<std::string>{"tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002"};
      if (sha256(env.data.data(), env.data.size()) != req.hash) return FakeReply::error(ErrorCode::kBadChunk, "bad");
      stored.insert(req.hash);
      return FakeReply{};
    }
    proto::CommitRequest commit;
    REQUIRE(codec::decode(env.body, &commit).ok());
    FakeReply r;
    r.body = codec::encode(proto::CommitReply{commit.manifest.file_id(), {"first", "second", "third"}});
    return r;
  });

  PutPipeline pipeline(ctx, chain(), std::chrono::milliseconds(5000));
  Manifest manifest{"f", 20 * kChunk, kChunk, {}, 3};
  for (std::uint64_t i = 0; i < 20; ++i) {
    Chunk c = make_chunk(i);
    manifest.chunks.push_back(c.hash);
    REQUIRE(pipeline.put(std::move(c)).ok());
  }
  auto committed = pipeline.commit(manifest);
  REQUIRE(committed.ok());
  CHECK(committed->file_id == manifest.file_id());
  CHECK(committed->peer_ids.size() == 3);
  CHECK(pipeline.acked_bytes() == manifest.size);
  std::lock_guard<std::mutex> lock(mu);
  CHECK(forward_ok);
  CHECK(stored.size() == 20);
}

TEST_CASE("put pipeline fails with the peer's no_space and names the peer") {
  zmq::context_t ctx;
  FakePeer peer(ctx, "inproc://put-first",
                [](const codec::Envelope&) { return FakeReply::error(ErrorCode::kNoSpace, "capacity reached"); });
  PutPipeline pipeline(ctx, chain(), std::chrono::milliseconds(5000));
  Status s = pipeline.put(make_chunk(0));
  if (s.ok()) s = pipeline.drain();
  CHECK(s.code() == ErrorCode::kNoSpace);
  CHECK_THAT(s.message(), Catch::Contains("first") && Catch::Contains("capacity reached"));
  CHECK(pipeline.failed_peer() == "first");
}

TEST_CASE("a forward failure is blamed on the later peer at its failed endpoint, a busy peer on none") {
  auto blamed = [](ErrorCode code, const std::string& message, const std::string& failed_endpoint = "") {
    zmq::context_t ctx;
    FakePeer peer(ctx, "inproc://put-first",
                  [&](const codec::Envelope&) { return FakeReply::error(code, message, failed_endpoint); });
    PutPipeline pipeline(ctx, chain(), std::chrono::milliseconds(5000));
    Status s = pipeline.put(make_chunk(0));
    if (s.ok()) s = pipeline.drain();
    CHECK(s.code() == code);
    return pipeline.failed_peer();
  };
  CHECK(blamed(ErrorCode::kForwardFailed, "no reply within 1000 ms", "tcp://127.0.0.1:7001") == "second");
  CHECK(blamed(ErrorCode::kForwardFailed, "connection closed", "tcp://127.0.0.1:7002") == "third");
  // The message is for people: an endpoint in it blames no one.
  CHECK(blamed(ErrorCode::kForwardFailed, "tcp://127.0.0.1:7002: connection closed").empty());
  CHECK(blamed(ErrorCode::kForwardFailed, "gone", "tcp://127.0.0.1:9999").empty());
  CHECK(blamed(ErrorCode::kUnavailable, "peer is busy").empty());
  CHECK(blamed(ErrorCode::kShuttingDown, "stopping") == "first");
}

TEST_CASE("put pipeline keeps at most its window in flight and times out on a silent peer") {
  zmq::context_t ctx;
  FakePeer peer(ctx, "inproc://put-first", [](const codec::Envelope&) { return FakeReply::silence(); });
  std::vector<proto::HolderInfo> one{{"first", "inproc://put-first"}};
  PutPipeline pipeline(ctx, one, std::chrono::milliseconds(200));
  Status s;
  std::uint64_t sent = 0;
  for (; sent < 2 * PutPipeline::kWindow && s.ok(); ++sent) s = pipeline.put(make_chunk(sent));
  CHECK(s.code() == ErrorCode::kTimeout);
  CHECK_THAT(s.message(), Catch::Contains("first") && Catch::Contains("inproc://put-first"));
  CHECK(pipeline.failed_peer() == "first");
  CHECK(peer.requests() <= static_cast<int>(PutPipeline::kWindow));
  CHECK(sent == PutPipeline::kWindow + 1);  // the next put waited for a free slot
}

TEST_CASE("put pipeline fails at once when its first peer goes away, not at the timeout") {
  zmq::context_t ctx;
  VanishingPeer peer(ctx);  // exits once it has a chunk: its socket closes
  const std::string endpoint = peer.endpoint();
  REQUIRE_FALSE(endpoint.empty());
  PutPipeline pipeline(ctx, {{"first", endpoint}}, std::chrono::milliseconds(30000));
  const auto start = Clock::now();
  Status s = pipeline.put(make_chunk(0));
  if (s.ok()) s = pipeline.drain();
  CHECK(peer.wait_gone() >= 1);
  CHECK(s.code() == ErrorCode::kUnavailable);
  CHECK_THAT(s.message(), Catch::Contains("first") && Catch::Contains("closed or refused"));
  CHECK(pipeline.failed_peer() == "first");
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

namespace {

// A fake first peer that stores every chunk and commits every manifest.
FakeReply accept_all(const codec::Envelope& env) {
  if (env.cmd() != proto::Command::kCommit) return FakeReply{};
  proto::CommitRequest commit;
  if (!codec::decode(env.body, &commit).ok()) return FakeReply::error(ErrorCode::kBadRequest, "bad commit");
  FakeReply r;
  r.body = codec::encode(proto::CommitReply{commit.manifest.file_id(), {"first"}});
  return r;
}

Status put_one(PutPipeline& pipeline, std::uint64_t index) {
  Chunk c = make_chunk(index);
  Manifest manifest{"f" + std::to_string(index), kChunk, kChunk, {c.hash}, 1};
  if (Status s = pipeline.put(std::move(c)); !s.ok()) return s;
  return pipeline.commit(manifest).status();
}

}  // namespace

TEST_CASE("puts through a connection pool reuse one connection to the first peer") {
  zmq::context_t ctx;
  FakePeer peer(ctx, "inproc://put-first", accept_all);
  p2p::client::ConnectionPool pool(ctx);
  std::vector<proto::HolderInfo> one{{"first", "inproc://put-first"}};
  for (std::uint64_t i = 0; i < 3; ++i) {
    PutPipeline pipeline(ctx, one, std::chrono::milliseconds(5000), &pool);
    REQUIRE(put_one(pipeline, i).ok());
  }
  CHECK(pool.opened() == 1);
  CHECK(pool.open_connections() == 1);
  CHECK(peer.requests() == 6);  // a PUT_CHUNK and a COMMIT each
}

TEST_CASE("a put that timed out gives its pooled connection back closed") {
  zmq::context_t ctx;
  FakePeer peer(ctx, "inproc://put-first", [](const codec::Envelope&) { return FakeReply::silence(); });
  p2p::client::ConnectionPool pool(ctx);
  std::vector<proto::HolderInfo> one{{"first", "inproc://put-first"}};
  {
    PutPipeline pipeline(ctx, one, std::chrono::milliseconds(50), &pool);
    CHECK(put_one(pipeline, 0).code() == ErrorCode::kTimeout);
  }
  CHECK(pool.open_connections() == 0);
  {
    PutPipeline pipeline(ctx, one, std::chrono::milliseconds(50), &pool);
    CHECK(put_one(pipeline, 1).code() == ErrorCode::kTimeout);
  }
  CHECK(pool.opened() == 2);  // a fresh socket: no late reply of the first put can reach the second
}

TEST_CASE("a commit left unanswered gives its pooled connection back closed") {
  zmq::context_t ctx;
  FakePeer peer(ctx, "inproc://put-first", [](const codec::Envelope& env) {
    return env.cmd() == proto::Command::kCommit ? FakeReply::silence() : FakeReply{};
  });
  p2p::client::ConnectionPool pool(ctx);
  std::vector<proto::HolderInfo> one{{"first", "inproc://put-first"}};
  {
    PutPipeline pipeline(ctx, one, std::chrono::milliseconds(50), &pool);
    CHECK(put_one(pipeline, 0).code() == ErrorCode::kTimeout);
    CHECK(pipeline.acked_bytes() == kChunk);  // the chunk was answered, the COMMIT not
  }
  CHECK(pool.open_connections() == 0);
}
