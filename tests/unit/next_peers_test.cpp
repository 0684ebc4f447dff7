#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/limits.h"
#include "common/sockets.h"
#include "services/peer/next_peers.h"
#include "fake_peer.h"

using namespace p2p;
using namespace std::chrono_literals;

namespace {

// Polls `next` until it hands out at least one answer, or 5 s pass.
std::vector<peer::NextPeers::Answer> answers_of(peer::NextPeers& next) {
  std::vector<peer::NextPeers::Answer> out;
  const auto deadline = Clock::now() + 5000ms;
  while (out.empty() && Clock::now() < deadline) {
    std::vector<zmq::pollitem_t> items;
    next.add_poll_items(items);
    zmq::poll(items, std::min(until(next.next_deadline()), until(deadline)));
    next.collect(items, 0, Clock::now(), out);
  }
  return out;
}

zmq::message_t ping() { return codec::encode(proto::Empty{}); }

}  // namespace

TEST_CASE("answers from a next peer are matched to their requests by seq") {
  zmq::context_t ctx;
  test::HeldPeer fake(ctx);
  peer::NextPeers next(ctx, 5000ms);
  Result<std::uint64_t> first = next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr);
  Result<std::uint64_t> second = next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(next.waiting() == 2);
  codec::Envelope r1 = fake.take(), r2 = fake.take();
  // Answered in the other order, the second with a body the first lacks.
  REQUIRE(codec::send_reply(fake.socket, codec::Layout::kRouter, r2, proto::FileRef{Hash{}}).ok());
  std::vector<peer::NextPeers::Answer> got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == second.value());
  REQUIRE(got[0].reply.ok());
  proto::FileRef ref;
  CHECK(codec::decode(got[0].reply->body, &ref).ok());
  REQUIRE(codec::send_reply(fake.socket, codec::Layout::kRouter, r1, proto::Empty{}).ok());
  got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == first.value());
  CHECK(got[0].reply.ok());
  CHECK(next.waiting() == 0);
}

TEST_CASE("an ERROR from the next peer is forward_failed with its reason") {
  zmq::context_t ctx;
  test::HeldPeer fake(ctx);
  peer::NextPeers next(ctx, 5000ms);
  REQUIRE(next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr).ok());
  codec::Envelope request = fake.take();
  REQUIRE(codec::send_error(fake.socket, codec::Layout::kRouter, request, {ErrorCode::kNoSpace, "disk full"}).ok());
  std::vector<peer::NextPeers::Answer> got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].reply.status().code() == ErrorCode::kForwardFailed);
  CHECK(got[0].reply.status().message() == fake.endpoint + ": no_space: disk full");
  CHECK(got[0].reply.status().failed_endpoint() == fake.endpoint);
}

TEST_CASE("a forward_failed from the next peer blames the later peer it names, if the request went there") {
  zmq::context_t ctx;
  test::HeldPeer fake(ctx);
  peer::NextPeers next(ctx, 5000ms);
  // The blame the next peer sends back for the request -> the one kept.
  auto blamed = [&](const std::string& theirs) {
    REQUIRE(next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr, {"tcp://127.0.0.1:7002"}).ok());
    codec::Envelope request = fake.take();
    const Status failure{ErrorCode::kForwardFailed, theirs + ": connection closed or refused", theirs};
    REQUIRE(codec::send_error(fake.socket, codec::Layout::kRouter, request, failure).ok());
    std::vector<peer::NextPeers::Answer> got = answers_of(next);
    REQUIRE(got.size() == 1);
    const Status& s = got[0].reply.status();
    CHECK(s.code() == ErrorCode::kForwardFailed);
    CHECK(s.message() == fake.endpoint + ": forward_failed: " + theirs + ": connection closed or refused");
    return s.failed_endpoint();
  };
  CHECK(blamed("tcp://127.0.0.1:7002") == "tcp://127.0.0.1:7002");
  // A peer the request never went to, or this one: the next peer's own failure.
  CHECK(blamed("tcp://127.0.0.1:7009") == fake.endpoint);
  CHECK(blamed(fake.endpoint) == fake.endpoint);
}

TEST_CASE("a request the next peer does not answer in time fails and its late answer is dropped") {
  zmq::context_t ctx;
  test::HeldPeer fake(ctx);
  peer::NextPeers next(ctx, 100ms);
  Result<std::uint64_t> slow = next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr);
  REQUIRE(slow.ok());
  codec::Envelope late = fake.take();
  std::vector<peer::NextPeers::Answer> got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == slow.value());
  CHECK(got[0].reply.status().code() == ErrorCode::kForwardFailed);
  CHECK(got[0].reply.status().message() == fake.endpoint + ": no reply within 100 ms");
  CHECK(got[0].reply.status().failed_endpoint() == fake.endpoint);

  // The late answer reaches the same socket before the next request's answer:
  // only the latter is handed out.
  REQUIRE(codec::send_reply(fake.socket, codec::Layout::kRouter, late, proto::Empty{}).ok());
  Result<std::uint64_t> again = next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr);
  REQUIRE(again.ok());
  REQUIRE(codec::send_reply(fake.socket, codec::Layout::kRouter, fake.take(), proto::Empty{}).ok());
  got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == again.value());
  CHECK(got[0].reply.ok());
}

TEST_CASE("a request that travels on past the next peer waits one timeout per hop") {
  zmq::context_t ctx;
  test::HeldPeer fake(ctx);
  peer::NextPeers next(ctx, 100ms);
  const auto sent_at = Clock::now();
  Result<std::uint64_t> far =
      next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr, {"tcp://127.0.0.1:7002", "tcp://127.0.0.1:7003"});
  REQUIRE(far.ok());
  CHECK(next.next_deadline() >= sent_at + 300ms);
  std::vector<peer::NextPeers::Answer> got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].reply.status().message() == fake.endpoint + ": no reply within 300 ms");
  CHECK(Clock::now() - sent_at >= 300ms);
}

TEST_CASE("a malformed reply fails every request waiting on that next peer") {
  zmq::context_t ctx;
  test::HeldPeer fake(ctx);
  peer::NextPeers next(ctx, 5000ms);
  REQUIRE(next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr).ok());
  REQUIRE(next.send(fake.endpoint, proto::Command::kPing, ping(), nullptr).ok());
  codec::Envelope request = fake.take();
  (void)fake.take();
  // [routing][empty][not a header]
  for (auto& r : request.routing) fake.socket.send(r, zmq::send_flags::sndmore);
  fake.socket.send(zmq::message_t{}, zmq::send_flags::sndmore);
  fake.socket.send(zmq::str_buffer("garbage"), zmq::send_flags::none);
  std::vector<peer::NextPeers::Answer> got = answers_of(next);
  REQUIRE(got.size() == 2);
  for (const auto& a : got) {
    CHECK(a.reply.status().code() == ErrorCode::kForwardFailed);
    CHECK(a.reply.status().message().find("bad reply") != std::string::npos);
  }
  CHECK(next.waiting() == 0);
}

TEST_CASE("a next peer whose connection closes fails its waiting requests at once, not at the timeout") {
  zmq::context_t ctx;
  test::VanishingPeer gone(ctx);  // the next peer exits once it has the request: its socket closes
  const std::string endpoint = gone.endpoint();
  REQUIRE_FALSE(endpoint.empty());
  peer::NextPeers next(ctx, 30000ms);
  Result<std::uint64_t> sent = next.send(endpoint, proto::Command::kPing, ping(), nullptr);
  REQUIRE(sent.ok());
  REQUIRE(gone.wait_gone() == 1);

  const auto start = Clock::now();
  std::vector<peer::NextPeers::Answer> got = answers_of(next);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == sent.value());
  CHECK(got[0].reply.status().code() == ErrorCode::kForwardFailed);
  CHECK(got[0].reply.status().message() == endpoint + ": connection closed or refused");
  CHECK(got[0].reply.status().failed_endpoint() == endpoint);
  CHECK(Clock::now() - start < 5000ms);
}
