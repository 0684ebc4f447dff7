#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <map>
#include <set>

#include <zmq_addon.hpp>

#include "common/chunk_store.h"
#include "common/sha256.h"
#include "common/sockets.h"
#include "services/peer/transfer_service.h"
#include "services/peer/transfer_worker.h"
#include "fake_peer.h"

using namespace p2p;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() / ("p2p-transfer-test-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

// One peer's data plane in-process: a store in a temp dir and a running
// transfer service. No tracker: its link keeps retrying a closed port.
struct Peer {
  fs::path dir = temp_dir();
  ChunkStore store;
  std::string peer_id = "peer-" + dir.filename().string().substr(18, 8);
  std::unique_ptr<peer::TransferService> service;
  std::string endpoint;

  Peer(zmq::context_t& ctx, std::uint64_t capacity = 64 << 20, std::chrono::milliseconds forward_timeout = 5000ms,
       unsigned workers = 2, std::function<bool(const Hash&)> check_chunk = {})
      : store(dir, capacity) {
    REQUIRE(store.load().ok());
    peer::TransferOptions o;
    o.listen = "tcp://127.0.0.1:0";
    o.workers = workers;
    o.forward_timeout = forward_timeout;
    o.drain_timeout = 2000ms;
    o.link.tracker_endpoint = "tcp://127.0.0.1:1";
    o.link.ready.peer_id = peer_id;
    o.link.heartbeat = 100ms;
    o.check_chunk = std::move(check_chunk);
    service = std::make_unique<peer::TransferService>(ctx, store, o);
    Result<std::string> ep = service->start();
    REQUIRE(ep.ok());
    endpoint = ep.value();
  }
  ~Peer() {
    service.reset();  // joins every thread before the store goes
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Hash hash_of(const std::string& s) { return sha256(s.data(), s.size()); }

// A client DEALER speaking to one peer.
struct Client {
  zmq::socket_t socket;
  std::uint64_t seq = 0;

  Client(zmq::context_t& ctx, const std::string& endpoint)
      : socket(make_socket(ctx, zmq::socket_type::dealer, limits::kMaxDataPlaneMessage)) {
    socket.connect(endpoint);
  }

  codec::Envelope receive() {
    std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
    const auto deadline = Clock::now() + 5000ms;
    codec::Envelope reply;
    Status s{ErrorCode::kTimeout, "no reply"};
    while (s.code() == ErrorCode::kTimeout && Clock::now() < deadline) {
      zmq::poll(items, until(deadline));
      s = codec::recv_envelope(socket, codec::Layout::kDealer, &reply);
    }
    REQUIRE(s.ok());
    return reply;
  }

  // Sends PUT_CHUNK{SHA-256 of data, forward} + data as request `seq`, and
  // does not wait for the reply.
  void send_put(std::uint64_t seq, const std::string& data, std::vector<std::string> forward = {}) {
    zmq::message_t frame(data.data(), data.size());
    REQUIRE(codec::send_envelope(socket, codec::Layout::kDealer, nullptr, proto::Command::kPutChunk, seq,
                                 codec::encode(proto::PutChunkRequest{hash_of(data), std::move(forward)}), &frame)
                .ok());
  }
  void send_ping(std::uint64_t seq) {
    REQUIRE(codec::send_envelope(socket, codec::Layout::kDealer, nullptr, proto::Command::kPing, seq,
                                 codec::encode(proto::Empty{}))
                .ok());
  }

  template <class T>
  codec::Envelope request(proto::Command command, const T& body, const std::string* data = nullptr) {
    std::optional<zmq::message_t> frame;
    if (data) frame.emplace(data->data(), data->size());
    REQUIRE(codec::send_envelope(socket, codec::Layout::kDealer, nullptr, command, ++seq, codec::encode(body),
                                 frame ? &*frame : nullptr)
                .ok());
    codec::Envelope reply = receive();
    CHECK(reply.seq == seq);
    return reply;
  }
};

Status status_of(const codec::Envelope& reply) {
  return reply.cmd() == proto::Command::kOk ? Status::Ok() : codec::error_from(reply);
}

std::string bytes_of(std::size_t size, char seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i * 13 + i / 101);
  return s;
}

Manifest one_chunk_manifest(const std::string& name, const std::string& chunk) {
  Manifest m;
  m.name = name;
  m.size = chunk.size();
  m.chunk_size = limits::kMaxChunkSize;  // any test chunk fits in one
  m.chunks = {hash_of(chunk)};
  return m;
}

}  // namespace

TEST_CASE("PUT_CHUNK then GET_CHUNK returns the bytes") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  std::string data = bytes_of(100000, 'p');
  codec::Envelope put = client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {}}, &data);
  REQUIRE(status_of(put).ok());
  CHECK(peer.store.has_chunk(hash_of(data)));

  codec::Envelope got = client.request(proto::Command::kGetChunk, proto::ChunkRef{hash_of(data)});
  REQUIRE(got.cmd() == proto::Command::kOk);
  REQUIRE(got.has_data);
  CHECK(got.data.to_string() == data);
  proto::ChunkRef ref;
  REQUIRE(codec::decode(got.body, &ref).ok());
  CHECK(ref.hash == hash_of(data));
}

TEST_CASE("GET_CHUNK of an absent chunk is not_found") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  codec::Envelope got = client.request(proto::Command::kGetChunk, proto::ChunkRef{hash_of("absent")});
  CHECK(status_of(got).code() == ErrorCode::kNotFound);
}

TEST_CASE("CHECK_CHUNK of a stored chunk is answered at once and hands the chunk to the check; of another, not_found") {
  zmq::context_t ctx;
  std::mutex mu;
  std::vector<Hash> checked;  // guarded by mu: called from worker threads
  Peer peer(ctx, 64 << 20, 5000ms, 2, [&](const Hash& h) {
    std::lock_guard lock(mu);
    checked.push_back(h);
    return true;
  });
  Client client(ctx, peer.endpoint);
  const std::string data = bytes_of(5000, 'c');
  REQUIRE(peer.store.put_chunk(hash_of(data), data.data(), data.size()).ok());

  CHECK(status_of(client.request(proto::Command::kCheckChunk, proto::ChunkRef{hash_of(data)})).ok());
  CHECK(status_of(client.request(proto::Command::kCheckChunk, proto::ChunkRef{hash_of("absent")})).code() ==
        ErrorCode::kNotFound);
  CHECK(peer.store.has_chunk(hash_of(data)));  // a report alone never drops a chunk
  // A report carries no bytes.
  CHECK(status_of(client.request(proto::Command::kCheckChunk, proto::ChunkRef{hash_of(data)}, &data)).code() ==
        ErrorCode::kBadRequest);
  std::lock_guard lock(mu);
  CHECK(checked == std::vector<Hash>{hash_of(data)});
}

TEST_CASE("CHECK_CHUNK with no check to hand it to is still answered") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  const std::string data = bytes_of(5000, 'd');
  REQUIRE(peer.store.put_chunk(hash_of(data), data.data(), data.size()).ok());
  CHECK(status_of(client.request(proto::Command::kCheckChunk, proto::ChunkRef{hash_of(data)})).ok());
  CHECK(peer.store.has_chunk(hash_of(data)));
}

TEST_CASE("PUT_CHUNK with a wrong hash is refused with bad_chunk") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  std::string data = bytes_of(1000, 'w');
  codec::Envelope put = client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of("other"), {}}, &data);
  CHECK(status_of(put).code() == ErrorCode::kBadChunk);
  CHECK(peer.store.chunk_count() == 0);
}

TEST_CASE("PUT_CHUNK beyond capacity is refused with no_space") {
  zmq::context_t ctx;
  Peer peer(ctx, /*capacity=*/1000);
  Client client(ctx, peer.endpoint);
  std::string data = bytes_of(2000, 'n');
  codec::Envelope put = client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {}}, &data);
  CHECK(status_of(put).code() == ErrorCode::kNoSpace);
}

TEST_CASE("chained PUT_CHUNK and COMMIT store the file on every peer of the pipeline") {
  zmq::context_t ctx;
  Peer first(ctx), second(ctx);
  Client client(ctx, first.endpoint);
  std::string data = bytes_of(30000, 'c');
  codec::Envelope put =
      client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {second.endpoint}}, &data);
  REQUIRE(status_of(put).ok());
  CHECK(first.store.has_chunk(hash_of(data)));
  CHECK(second.store.has_chunk(hash_of(data)));

  Manifest m = one_chunk_manifest("chained.bin", data);
  codec::Envelope commit = client.request(proto::Command::kCommit, proto::CommitRequest{m, {second.endpoint}});
  REQUIRE(status_of(commit).ok());
  proto::CommitReply reply;
  REQUIRE(codec::decode(commit.body, &reply).ok());
  CHECK(reply.file_id == m.file_id());
  CHECK(reply.peer_ids == std::vector<std::string>{first.peer_id, second.peer_id});
  CHECK(first.store.manifest(m.file_id()).ok());
  CHECK(second.store.manifest(m.file_id()).ok());
}

TEST_CASE("failure of the next peer is reported as forward_failed") {
  zmq::context_t ctx;
  Peer peer(ctx, 64 << 20, /*forward_timeout=*/200ms);
  Client client(ctx, peer.endpoint);
  std::string data = bytes_of(5000, 'f');
  // Nothing listens on port 1: the forward times out.
  codec::Envelope put = client.request(proto::Command::kPutChunk,
                                       proto::PutChunkRequest{hash_of(data), {"tcp://127.0.0.1:1"}}, &data);
  Status s = status_of(put);
  CHECK(s.code() == ErrorCode::kForwardFailed);
  CHECK(s.message().find("tcp://127.0.0.1:1") != std::string::npos);
  CHECK(s.failed_endpoint() == "tcp://127.0.0.1:1");
  CHECK(peer.store.has_chunk(hash_of(data)));  // the local copy is kept

  // A downstream refusal comes back with the downstream's reason.
  Peer tiny(ctx, /*capacity=*/100);
  codec::Envelope refused =
      client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {tiny.endpoint}}, &data);
  CHECK(status_of(refused).code() == ErrorCode::kForwardFailed);
  CHECK(status_of(refused).message().find("no_space") != std::string::npos);
  CHECK(status_of(refused).failed_endpoint() == tiny.endpoint);
}

TEST_CASE("a failure two peers down the pipeline reaches the client naming that peer") {
  zmq::context_t ctx;
  Peer first(ctx, 64 << 20, /*forward_timeout=*/200ms), second(ctx, 64 << 20, /*forward_timeout=*/200ms);
  Client client(ctx, first.endpoint);
  const std::string data = bytes_of(5000, 'd');
  // second forwards to port 1, where nothing listens.
  const Status s = status_of(client.request(
      proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {second.endpoint, "tcp://127.0.0.1:1"}}, &data));
  CHECK(s.code() == ErrorCode::kForwardFailed);
  CHECK(s.failed_endpoint() == "tcp://127.0.0.1:1");
  CHECK(first.store.has_chunk(hash_of(data)));
  CHECK(second.store.has_chunk(hash_of(data)));
}

TEST_CASE("pipelines that cross two peers in opposite orders do not wait on each other") {
  // One worker each: a worker that waited for its next peer would hold the
  // only worker of its peer while the other peer's worker waits for it.
  zmq::context_t ctx;
  Peer a(ctx, 64 << 20, /*forward_timeout=*/3000ms, /*workers=*/1);
  Peer b(ctx, 64 << 20, /*forward_timeout=*/3000ms, /*workers=*/1);
  Client to_a(ctx, a.endpoint), to_b(ctx, b.endpoint);
  constexpr int kChunks = 16;
  std::vector<Hash> hashes;
  for (int i = 0; i < kChunks; ++i) {
    for (Client* c : {&to_a, &to_b}) {
      const std::string data = bytes_of(8000 + i, static_cast<char>(c == &to_a ? 'a' + i : 'A' + i));
      const std::string& next = c == &to_a ? b.endpoint : a.endpoint;
      hashes.push_back(hash_of(data));
      c->send_put(++c->seq, data, {next});
    }
  }
  for (Client* c : {&to_a, &to_b}) {
    std::set<std::uint64_t> answered;
    for (int i = 0; i < kChunks; ++i) {
      codec::Envelope reply = c->receive();
      CHECK(status_of(reply).to_string() == "ok");
      answered.insert(reply.seq);
    }
    CHECK(answered.size() == kChunks);
  }
  for (const Hash& h : hashes) {
    CHECK(a.store.has_chunk(h));
    CHECK(b.store.has_chunk(h));
  }
}

TEST_CASE("a worker whose pipeline step waits on the next peer serves other requests meanwhile") {
  zmq::context_t ctx;
  // One worker, and a next peer slower than the client's 5 s wait for the PING.
  Peer peer(ctx, 64 << 20, /*forward_timeout=*/20000ms, /*workers=*/1);
  Client client(ctx, peer.endpoint);
  test::HeldPeer next(ctx);
  const std::string data = bytes_of(5000, 'w');
  client.send_put(1, data, {next.endpoint});
  codec::Envelope forwarded = next.take();
  CHECK(forwarded.cmd() == proto::Command::kPutChunk);
  CHECK(forwarded.data.to_string() == data);

  client.send_ping(2);
  codec::Envelope pong = client.receive();
  CHECK(pong.seq == 2);
  CHECK(status_of(pong).ok());
  CHECK_FALSE(peer.store.has_chunk(hash_of(data)));  // staged until the verdict

  // The next peer's OK completes the waiting step.
  REQUIRE(codec::send_reply(next.socket, codec::Layout::kRouter, forwarded, proto::Empty{}).ok());
  codec::Envelope put = client.receive();
  CHECK(put.seq == 1);
  CHECK(status_of(put).ok());
  CHECK(peer.store.has_chunk(hash_of(data)));
  CHECK(fs::is_empty(peer.dir / "tmp"));
}

TEST_CASE("a worker with 64 steps waiting refuses the next forwarded write as unavailable") {
  zmq::context_t ctx;
  Peer peer(ctx, 64 << 20, /*forward_timeout=*/20000ms, /*workers=*/1);
  Client client(ctx, peer.endpoint);
  test::HeldPeer next(ctx);
  constexpr int kSteps = static_cast<int>(peer::kMaxWorkerSteps);
  for (int i = 0; i <= kSteps; ++i)
    client.send_put(++client.seq, bytes_of(3000, static_cast<char>(i)), {next.endpoint});
  // The first 64 reach the next peer and wait; the 65th is refused at once.
  std::vector<codec::Envelope> forwarded;
  for (int i = 0; i < kSteps; ++i) forwarded.push_back(next.take());
  codec::Envelope refused = client.receive();
  CHECK(refused.seq == kSteps + 1);
  CHECK(status_of(refused).code() == ErrorCode::kUnavailable);

  for (auto& f : forwarded) REQUIRE(codec::send_reply(next.socket, codec::Layout::kRouter, f, proto::Empty{}).ok());
  for (int i = 0; i < kSteps; ++i) CHECK(status_of(client.receive()).ok());
  CHECK(peer.store.chunk_count() == kSteps);
}

TEST_CASE("a COMMIT reply from the next peer naming more peers than follow it is forward_failed") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  test::HeldPeer next(ctx);
  const std::string data = bytes_of(4000, 'm');
  REQUIRE(status_of(client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {}}, &data)).ok());
  const Manifest m = one_chunk_manifest("claimed.bin", data);
  REQUIRE(codec::send_envelope(client.socket, codec::Layout::kDealer, nullptr, proto::Command::kCommit, ++client.seq,
                               codec::encode(proto::CommitRequest{m, {next.endpoint}}))
              .ok());
  // One peer follows this one; its reply claims two.
  const codec::Envelope forwarded = next.take();
  REQUIRE(codec::send_reply(next.socket, codec::Layout::kRouter, forwarded,
                            proto::CommitReply{m.file_id(), {"next-peer", "made-up-peer"}})
              .ok());
  const Status s = status_of(client.receive());
  CHECK(s.code() == ErrorCode::kForwardFailed);
  CHECK(s.message() == next.endpoint + ": bad COMMIT reply");
  CHECK(s.failed_endpoint() == next.endpoint);
}

TEST_CASE("bad bytes sent down a pipeline are refused by its tail and kept by no peer") {
  zmq::context_t ctx;
  Peer first(ctx), second(ctx), third(ctx);
  Client client(ctx, first.endpoint);
  std::string data = bytes_of(20000, 'x');
  const Hash claimed = hash_of(bytes_of(20000, 'y'));
  codec::Envelope put = client.request(
      proto::Command::kPutChunk, proto::PutChunkRequest{claimed, {second.endpoint, third.endpoint}}, &data);
  CHECK(status_of(put).code() == ErrorCode::kBadChunk);
  for (Peer* p : {&first, &second, &third}) {
    CHECK_FALSE(p->store.has_chunk(claimed));
    CHECK(p->store.stored_bytes() == 0);
    CHECK(fs::is_empty(p->dir / "tmp"));  // the staged copies are gone too
  }
}

TEST_CASE("a pipeline peer whose next peer is gone judges the bytes itself") {
  zmq::context_t ctx;
  Peer peer(ctx, 64 << 20, /*forward_timeout=*/200ms);
  Client client(ctx, peer.endpoint);
  std::string data = bytes_of(6000, 'g');
  const Hash claimed = hash_of(bytes_of(6000, 'h'));
  codec::Envelope put = client.request(proto::Command::kPutChunk,
                                       proto::PutChunkRequest{claimed, {"tcp://127.0.0.1:1"}}, &data);
  CHECK(status_of(put).code() == ErrorCode::kBadChunk);
  CHECK_FALSE(peer.store.has_chunk(claimed));
  CHECK(fs::is_empty(peer.dir / "tmp"));
}

TEST_CASE("a pipeline peer that already holds the chunk reports the downstream failure and keeps its copy") {
  zmq::context_t ctx;
  Peer peer(ctx, 64 << 20, /*forward_timeout=*/200ms);
  Client client(ctx, peer.endpoint);
  const std::string good = bytes_of(6000, 'k');
  const Hash hash = hash_of(good);
  REQUIRE(status_of(client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash, {}}, &good)).ok());
  // The same hash again, with other bytes, towards a next peer that is gone:
  // nothing new is kept, so nothing is hashed, and the answer is the pipeline's.
  const std::string other = bytes_of(6000, 'z');
  codec::Envelope put =
      client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash, {"tcp://127.0.0.1:1"}}, &other);
  CHECK(status_of(put).code() == ErrorCode::kForwardFailed);
  Result<zmq::message_t> kept = peer.store.read_chunk(hash);
  REQUIRE(kept.ok());
  CHECK(kept->to_string() == good);
  CHECK(fs::is_empty(peer.dir / "tmp"));
}

TEST_CASE("COMMIT with a missing chunk is refused with missing_chunks") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  Manifest m = one_chunk_manifest("missing.bin", bytes_of(20000, 'm'));
  codec::Envelope commit = client.request(proto::Command::kCommit, proto::CommitRequest{m, {}});
  CHECK(status_of(commit).code() == ErrorCode::kMissingChunks);
  CHECK_FALSE(peer.store.manifest(m.file_id()).ok());
}

TEST_CASE("COMMIT of an invalid manifest is refused") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  Manifest bad_name = one_chunk_manifest("../etc/passwd", bytes_of(100, 'x'));
  CHECK(status_of(client.request(proto::Command::kCommit, proto::CommitRequest{bad_name, {}})).code() ==
        ErrorCode::kBadName);
  Manifest bad_count = one_chunk_manifest("ok.bin", bytes_of(100, 'x'));
  bad_count.size = 3 * limits::kMaxChunkSize;  // needs 3 chunks, lists 1
  CHECK(status_of(client.request(proto::Command::kCommit, proto::CommitRequest{bad_count, {}})).code() ==
        ErrorCode::kBadRequest);
}

TEST_CASE("committed manifest is served by GET_MANIFEST") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  std::string data = bytes_of(20000, 'g');
  REQUIRE(status_of(client.request(proto::Command::kPutChunk, proto::PutChunkRequest{hash_of(data), {}}, &data)).ok());
  Manifest m = one_chunk_manifest("served.bin", data);
  REQUIRE(status_of(client.request(proto::Command::kCommit, proto::CommitRequest{m, {}})).ok());
  codec::Envelope got = client.request(proto::Command::kGetManifest, proto::FileRef{m.file_id()});
  REQUIRE(status_of(got).ok());
  proto::ManifestReply reply;
  REQUIRE(codec::decode(got.body, &reply).ok());
  CHECK(reply.manifest.file_id() == m.file_id());
  CHECK(status_of(client.request(proto::Command::kGetManifest, proto::FileRef{hash_of("none")})).code() ==
        ErrorCode::kNotFound);
}

TEST_CASE("garbage frames get an ERROR and the service keeps serving") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);

  // Undecodable header.
  std::vector<zmq::message_t> junk;
  junk.emplace_back();
  junk.emplace_back(std::string("\xc1garbage"));
  junk.emplace_back(std::string("x"));
  REQUIRE(zmq::send_multipart(client.socket, junk));
  CHECK(status_of(client.receive()).code() == ErrorCode::kBadRequest);

  // Unknown command, undecodable body, missing data frame.
  CHECK(status_of(client.request(static_cast<proto::Command>(99), proto::Empty{})).code() ==
        ErrorCode::kUnknownCommand);
  CHECK(status_of(client.request(proto::Command::kGetChunk, std::string("not an array"))).code() == ErrorCode::kBadRequest);
  CHECK(status_of(client.request(proto::Command::kPutChunk, proto::PutChunkRequest{})).code() ==
        ErrorCode::kBadRequest);
  // A forward endpoint that is not another peer's TCP address.
  std::string data = bytes_of(100, 'i');
  CHECK(status_of(client.request(proto::Command::kPutChunk,
                                 proto::PutChunkRequest{hash_of(data), {"inproc://p2p-peer-committed"}}, &data))
            .code() == ErrorCode::kBadRequest);

  // Wrong protocol version.
  std::vector<zmq::message_t> old;
  old.emplace_back();
  msgpack::sbuffer header;
  msgpack::pack(header, std::make_tuple(std::uint8_t{9}, std::uint8_t{34}, std::uint64_t{7}));
  old.emplace_back(header.data(), header.size());
  old.emplace_back(codec::encode(proto::Empty{}));
  REQUIRE(zmq::send_multipart(client.socket, old));
  CHECK(status_of(client.receive()).code() == ErrorCode::kVersion);

  CHECK(status_of(client.request(proto::Command::kPing, proto::Empty{})).ok());
}

TEST_CASE("pipelined requests are all answered, matched by seq") {
  zmq::context_t ctx;
  Peer peer(ctx);
  Client client(ctx, peer.endpoint);
  std::vector<std::string> chunks;
  for (int i = 0; i < 16; ++i) chunks.push_back(bytes_of(20000 + i, static_cast<char>('a' + i)));
  for (std::size_t i = 0; i < chunks.size(); ++i) client.send_put(100 + i, chunks[i]);
  std::set<std::uint64_t> answered;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    codec::Envelope reply = client.receive();
    CHECK(status_of(reply).ok());
    answered.insert(reply.seq);
  }
  CHECK(answered.size() == chunks.size());
  CHECK(peer.store.chunk_count() == chunks.size());
}

TEST_CASE("stopping refuses new requests but answers those in flight") {
  zmq::context_t ctx;
  Peer peer(ctx, 64 << 20, /*forward_timeout=*/500ms);
  Client client(ctx, peer.endpoint);
  // A next peer that takes the forwarded chunk and never answers: once it
  // has the chunk, the worker is waiting downstream, with request 1 in flight.
  test::HeldPeer next(ctx);
  client.send_put(1, bytes_of(5000, 'd'), {next.endpoint});
  (void)next.take();  // never answered
  peer.service->stop();
  client.send_ping(2);
  std::map<std::uint64_t, Status> replies;
  for (int i = 0; i < 2; ++i) {
    codec::Envelope reply = client.receive();
    replies[reply.seq] = status_of(reply);
  }
  CHECK(replies.at(1).code() == ErrorCode::kForwardFailed);  // drained, not dropped
  CHECK(replies.at(2).code() == ErrorCode::kShuttingDown);
}
