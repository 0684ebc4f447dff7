// `p2p put` (client/put_command.h) against a fake tracker and a fake first
// peer on inproc: which failures start the put again, and for how long.
#include <catch2/catch.hpp>

#include <fstream>
#include <mutex>

#include "client/put_command.h"
#include "common/sha256.h"
#include "fake_peer.h"
#include "tests/support/temp_dir.h"

using namespace p2p;
using namespace std::chrono_literals;
using test::FakePeer;
using test::FakeReply;

namespace {

constexpr std::uint64_t kChunk = limits::kMinChunkSize;

// The tracker's side of a put: PLACE on the one fake peer, PUBLISH of what it committed.
struct PutTracker {
  std::mutex mu;
  int places = 0;
  int publishes = 0;
  int publish_refusals = 0;  // the first ones answered unavailable: the holders died since COMMIT
  int silent_places = 0;     // the first ones get no answer: a busy tracker
  int silent_publishes = 0;  // the same, for PUBLISH

  FakePeer::Handler handler(const std::string& peer_endpoint) {
    return [this, peer_endpoint](const codec::Envelope& env) {
      std::lock_guard lock(mu);
      if (env.cmd() == proto::Command::kPlace) {
        if (++places <= silent_places) return FakeReply::silence();
        FakeReply r;
        r.body = codec::encode(proto::PlaceReply{{{"peer-1", peer_endpoint}}, false, {}, 1});
        return r;
      }
      proto::PublishRequest req;
      if (env.cmd() != proto::Command::kPublish || !codec::decode(env.body, &req).ok())
        return FakeReply::error(ErrorCode::kBadRequest, "not a PLACE or PUBLISH");
      if (++publishes <= silent_publishes) return FakeReply::silence();
      if (publishes - silent_publishes <= publish_refusals)
        return FakeReply::error(ErrorCode::kUnavailable, "none of the 1 listed holders is a live peer");
      FakeReply r;
      r.body = codec::encode(proto::PublishReply{req.manifest.file_id()});
      return r;
    };
  }
};

// The first (and only) peer of the pipeline: refuses the first PUT_CHUNK of
// each of the first `refusals` connections (an attempt that failed gives its
// connection back closed, so each attempt has one) with `refusal`, and stores
// and commits the rest.
struct PutPeer {
  std::mutex mu;
  int refusals;
  ErrorCode refusal;
  int refused = 0;

  PutPeer(int n, ErrorCode code) : refusals(n), refusal(code) {}

  FakePeer::Handler handler() {
    return [this](const codec::Envelope& env) {
      std::lock_guard lock(mu);
      if (env.cmd() == proto::Command::kPutChunk) {
        if (env.seq == 1 && refused < refusals) {
          ++refused;
          return FakeReply::error(refusal, refusal == ErrorCode::kUnavailable ? "peer is busy" : "refused");
        }
        proto::PutChunkRequest req;
        if (!codec::decode(env.body, &req).ok() || sha256(env.data.data(), env.data.size()) != req.hash)
          return FakeReply::error(ErrorCode::kBadChunk, "bad chunk");
        return FakeReply{};
      }
      proto::CommitRequest commit;
      if (!codec::decode(env.body, &commit).ok()) return FakeReply::error(ErrorCode::kBadRequest, "not a COMMIT");
      FakeReply r;
      r.body = codec::encode(proto::CommitReply{commit.manifest.file_id(), {"peer-1"}});
      return r;
    };
  }
};

// A fake tracker and first peer on inproc, named by `tag`, and puts of a
// 3.5-chunk file through them; with `tcp_tracker`, the tracker is on tcp
// (where a busy one is told apart) and the client's timeout is short.
// Members in order: the fakes' threads stop before the handlers' state and
// the context go.
struct PutNetwork {
  const std::string peer_endpoint;
  const std::string tracker_endpoint;
  const std::chrono::milliseconds timeout;
  zmq::context_t ctx;
  PutPeer peer;
  PutTracker tracker;
  FakePeer data;
  FakePeer control;
  test::TempDir dir{"p2p-put-command"};

  PutNetwork(const std::string& tag, int refusals, ErrorCode refusal, bool tcp_tracker = false)
      : peer_endpoint("inproc://put-" + tag + "-peer"),
        tracker_endpoint(tcp_tracker ? "tcp://127.0.0.1:*" : "inproc://put-" + tag + "-tracker"),
        timeout(tcp_tracker ? 300ms : 3000ms),
        peer(refusals, refusal),
        data(ctx, peer_endpoint, peer.handler()),
        control(ctx, tracker_endpoint, tracker.handler(peer_endpoint)) {
    std::ofstream out(dir / "doc.bin", std::ios::binary);
    for (std::uint64_t i = 0; i < 7 * kChunk / 2; ++i) out.put(static_cast<char>(i * 131 % 251));
  }

  // run_put's exit code with a retry budget of `retry`.
  int put(std::chrono::milliseconds retry) {
    client::GlobalOptions global;
    global.tracker = control.bound();
    global.timeout = timeout;
    global.quiet = true;
    client::PutOptions options;
    options.path = (dir / "doc.bin").string();
    options.chunk_size = kChunk;
    options.retry = retry;
    return client::run_put(ctx, global, options);
  }
  int places() {
    std::lock_guard lock(tracker.mu);
    return tracker.places;
  }
  int publishes() {
    std::lock_guard lock(tracker.mu);
    return tracker.publishes;
  }
};

client::Failure failure_of(ErrorCode code, client::Origin origin, bool tracker_busy = false) {
  client::Failure f;
  f.status = {code, ""};
  f.origin = origin;
  f.tracker_busy = tracker_busy;
  return f;
}

int exit_of(ErrorCode code) { return static_cast<int>(client::exit_for({code, ""}, client::Origin::kPeer)); }

}  // namespace

TEST_CASE("a put refused by a busy peer is placed again and succeeds") {
  PutNetwork net("busy", 2, ErrorCode::kUnavailable);
  CHECK(net.put(10s) == 0);
  CHECK(net.places() == 3);  // two refused attempts, then the one that stored it
  CHECK(net.publishes() == 1);
}

TEST_CASE("a put still refused when its retry budget is spent fails with the peer's reason") {
  PutNetwork net("spent", 1000000, ErrorCode::kUnavailable);
  CHECK(net.put(300ms) == exit_of(ErrorCode::kUnavailable));
  CHECK(net.places() >= 2);  // retried: first pause 50 ms, the budget 300 ms
  CHECK(net.publishes() == 0);
}

TEST_CASE("a put refused for a reason a new attempt cannot mend is not started again") {
  PutNetwork net("full", 1000000, ErrorCode::kNoSpace);
  CHECK(net.put(10s) == exit_of(ErrorCode::kNoSpace));
  CHECK(net.places() == 1);
}

TEST_CASE("a put with no retry budget fails on the first busy refusal") {
  PutNetwork net("once", 1, ErrorCode::kUnavailable);
  CHECK(net.put(0ms) == exit_of(ErrorCode::kUnavailable));
  CHECK(net.places() == 1);
}
TEST_CASE("only failures of a peer that a new placement can mend are worth a retry") {
  using client::Origin;
  for (ErrorCode c : {ErrorCode::kUnavailable, ErrorCode::kShuttingDown, ErrorCode::kForwardFailed,
                      ErrorCode::kTimeout, ErrorCode::kMissingChunks})
    CHECK(client::worth_retrying(failure_of(c, Origin::kPeer)));
  for (ErrorCode c : {ErrorCode::kNoSpace, ErrorCode::kBadChunk, ErrorCode::kBadRequest, ErrorCode::kIo})
    CHECK_FALSE(client::worth_retrying(failure_of(c, Origin::kPeer)));
  CHECK_FALSE(client::worth_retrying(failure_of(ErrorCode::kTimeout, Origin::kTracker)));  // not there
  CHECK(client::worth_retrying(failure_of(ErrorCode::kTimeout, Origin::kTracker, /*tracker_busy=*/true)));
  CHECK_FALSE(client::worth_retrying(failure_of(ErrorCode::kIo, Origin::kInput)));
}

TEST_CASE("a file of more chunks than a manifest holds at the default chunk size gets larger chunks") {
  const std::uint64_t past_default = limits::kMaxChunksPerFile * std::uint64_t{limits::kDefaultChunkSize} + 1;
  Result<std::uint32_t> size = client::chunk_size_for(past_default, limits::kDefaultChunkSize, false);
  REQUIRE(size.ok());
  CHECK(size.value() == 2 * limits::kDefaultChunkSize);
  CHECK(chunk_count_for(past_default, size.value()) <= limits::kMaxChunksPerFile);
  // A file that fits keeps the chunk size asked for.
  CHECK(client::chunk_size_for(1 << 30, limits::kDefaultChunkSize, false).value() == limits::kDefaultChunkSize);
}

TEST_CASE("a chunk size given for a file it cannot cover is refused, not raised") {
  const std::uint64_t big = limits::kMaxChunksPerFile * std::uint64_t{limits::kMinChunkSize} + 1;
  Result<std::uint32_t> size = client::chunk_size_for(big, limits::kMinChunkSize, true);
  CHECK(size.status().code() == ErrorCode::kBadRequest);
  CHECK_THAT(size.status().message(), Catch::Contains("--chunk-size"));
}

TEST_CASE("a file larger than the largest chunks can cover is refused") {
  const std::uint64_t huge = limits::kMaxChunksPerFile * std::uint64_t{limits::kMaxChunkSize} + 1;
  CHECK(client::chunk_size_for(huge, limits::kDefaultChunkSize, false).status().code() == ErrorCode::kBadRequest);
}

TEST_CASE("a put whose committing peers all died before PUBLISH is placed again") {
  PutNetwork net("publish-gone", 0, ErrorCode::kOk);
  {
    std::lock_guard lock(net.tracker.mu);  // its handler runs on the fake's thread
    net.tracker.publish_refusals = 1;
  }
  CHECK(net.put(10s) == 0);
  CHECK(net.places() == 2);
  CHECK(net.publishes() == 2);
}

TEST_CASE("a put whose PLACE or PUBLISH a connected tracker leaves unanswered is started again and succeeds") {
  const bool at_publish = GENERATE(false, true);
  PutNetwork net(at_publish ? "busy-publish" : "busy-place", 0, ErrorCode::kOk, /*tcp_tracker=*/true);
  {
    std::lock_guard lock(net.tracker.mu);  // its handler runs on the fake's thread
    (at_publish ? net.tracker.silent_publishes : net.tracker.silent_places) = 1;
  }
  CHECK(net.put(10s) == 0);
  CHECK(net.places() == 2);
  CHECK(net.publishes() == (at_publish ? 2 : 1));
}
