#include <catch2/catch.hpp>

#include "common/codec.h"
#include "common/manifest.h"
#include "common/sha256.h"
#include "common/sockets.h"

using namespace p2p;

namespace {

// A connected DEALER/ROUTER pair over inproc, the layouts the codec serves.
struct Pair {
  zmq::context_t ctx;
  zmq::socket_t router = make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage);
  zmq::socket_t dealer = make_socket(ctx, zmq::socket_type::dealer, limits::kMaxControlMessage);
  Pair() {
    router.bind("inproc://codec");
    dealer.connect("inproc://codec");
  }
  Status recv_router(codec::Envelope* env) {
    std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, std::chrono::milliseconds(2000));
    return codec::recv_envelope(router, codec::Layout::kRouter, env);
  }
};

}  // namespace

TEST_CASE("request body round-trips through dealer and router") {
  Pair p;
  proto::PlaceRequest req{"movie.mkv", 123456789, 3, {}};
  REQUIRE(codec::send_envelope(p.dealer, codec::Layout::kDealer, nullptr, proto::Command::kPlace, 42,
                               codec::encode(req))
              .ok());
  codec::Envelope env;
  REQUIRE(p.recv_router(&env).ok());
  CHECK(env.cmd() == proto::Command::kPlace);
  CHECK(env.seq == 42);
  CHECK(env.routing.size() == 1);
  proto::PlaceRequest got;
  REQUIRE(codec::decode(env.body, &got).ok());
  CHECK(got.name == "movie.mkv");
  CHECK(got.size == 123456789);
  CHECK(got.replicas == 3);
}

TEST_CASE("data frame travels beside the body") {
  Pair p;
  std::string bytes(1000, 'x');
  zmq::message_t data(bytes.data(), bytes.size());
  proto::ChunkRef ref;
  REQUIRE(codec::send_envelope(p.dealer, codec::Layout::kDealer, nullptr, proto::Command::kGetChunk, 1,
                               codec::encode(ref), &data)
              .ok());
  codec::Envelope env;
  REQUIRE(p.recv_router(&env).ok());
  REQUIRE(env.has_data);
  CHECK(env.data.to_string() == bytes);
}

TEST_CASE("message without empty delimiter is rejected") {
  Pair p;
  p.dealer.send(zmq::str_buffer("not-a-delimiter"), zmq::send_flags::none);
  codec::Envelope env;
  Status s = p.recv_router(&env);
  CHECK(s.code() == ErrorCode::kBadRequest);
}

TEST_CASE("garbage header is rejected and reply stays possible") {
  Pair p;
  p.dealer.send(zmq::message_t(), zmq::send_flags::sndmore);
  p.dealer.send(zmq::str_buffer("\xc1\xc1"), zmq::send_flags::none);  // 0xc1 is never valid msgpack
  codec::Envelope env;
  Status s = p.recv_router(&env);
  CHECK(s.code() == ErrorCode::kBadRequest);
  CHECK(codec::reply_possible(env, codec::Layout::kRouter));
}

TEST_CASE("too many frames are rejected and drained") {
  Pair p;
  zmq::message_t body = codec::encode(proto::Empty{});
  REQUIRE(codec::send_envelope(p.dealer, codec::Layout::kDealer, nullptr, proto::Command::kPing, 1,
                               codec::encode(proto::Empty{}), nullptr, zmq::send_flags::sndmore)
              .ok());
  p.dealer.send(zmq::str_buffer("data"), zmq::send_flags::sndmore);
  p.dealer.send(zmq::str_buffer("extra"), zmq::send_flags::none);
  codec::Envelope env;
  CHECK(p.recv_router(&env).code() == ErrorCode::kBadRequest);
  // The next message decodes cleanly: nothing of the bad one is left behind.
  REQUIRE(codec::send_envelope(p.dealer, codec::Layout::kDealer, nullptr, proto::Command::kPing, 2, std::move(body))
              .ok());
  REQUIRE(p.recv_router(&env).ok());
  CHECK(env.seq == 2);
}

TEST_CASE("wrong protocol version is reported as version error") {
  Pair p;
  p.dealer.send(zmq::message_t(), zmq::send_flags::sndmore);
  msgpack::sbuffer hb;
  msgpack::pack(hb, std::make_tuple(std::uint8_t{9}, std::uint8_t{34}, std::uint64_t{1}));
  p.dealer.send(zmq::buffer(hb.data(), hb.size()), zmq::send_flags::sndmore);
  p.dealer.send(codec::encode(proto::Empty{}), zmq::send_flags::none);
  codec::Envelope env;
  CHECK(p.recv_router(&env).code() == ErrorCode::kVersion);
}

TEST_CASE("body with wrong types is rejected") {
  auto wrong = codec::encode(std::make_tuple(std::string("name"), std::string("not a number")));
  proto::PlaceRequest req;
  CHECK(codec::decode(wrong, &req).code() == ErrorCode::kBadRequest);
}

TEST_CASE("a PLACE from a client older than its avoid field decodes with nothing to avoid") {
  // Structs only grow at the end: the three fields before `avoid` as an older client sends them.
  auto older = codec::encode(std::make_tuple(std::string("movie.mkv"), std::uint64_t{42}, std::uint32_t{3}));
  proto::PlaceRequest req;
  req.avoid = {"stale"};
  REQUIRE(codec::decode(older, &req).ok());
  CHECK(req.name == "movie.mkv");
  CHECK(req.replicas == 3);
  CHECK(req.avoid.empty());
}

TEST_CASE("a LIST, STAT or STATUS reply from a tracker older than its index field decodes as a complete index") {
  proto::ListReply list;
  list.files.push_back(proto::FileSummary{Hash{}, "a.bin", 1, 1, 3, 3});
  auto older_list = codec::encode(std::make_tuple(list.files));
  proto::ListReply got_list;
  got_list.index.announcing = 7;
  REQUIRE(codec::decode(older_list, &got_list).ok());
  CHECK(got_list.files.size() == 1);
  CHECK(got_list.index.complete());

  auto older_stat = codec::encode(std::make_tuple(list.files[0], std::vector<proto::HolderInfo>{{"p1", "tcp://a:1"}}));
  proto::StatReply stat;
  REQUIRE(codec::decode(older_stat, &stat).ok());
  CHECK(stat.holders.size() == 1);
  CHECK(stat.index.complete());

  // The ten counts of STATUS before `index`.
  auto older_status = codec::encode(std::make_tuple(std::uint32_t{3}, std::uint32_t{5}, std::uint64_t{1}, std::uint64_t{3},
                                                    std::uint64_t{9}, std::uint64_t{8}, std::uint32_t{2}, std::uint32_t{1},
                                                    std::uint32_t{0}, std::uint32_t{0}));
  proto::StatusReply status;
  REQUIRE(codec::decode(older_status, &status).ok());
  CHECK(status.under_replicated == 2);
  CHECK(status.index.complete());
  CHECK(status.index.departed_holdings == 0);
}

TEST_CASE("an incomplete index state travels in a LIST reply") {
  proto::ListReply sent;
  sent.index = proto::IndexState{2, 1500, 40000};
  proto::ListReply got;
  REQUIRE(codec::decode(codec::encode(sent), &got).ok());
  CHECK(got.index.announcing == 2);
  CHECK(got.index.rejoin_left_ms == 1500);
  CHECK(got.index.departed_holdings == 40000);
  CHECK_FALSE(got.index.complete());
  CHECK(proto::IndexState{0, 1}.complete() == false);
  CHECK(proto::IndexState{1, 0}.complete() == false);
  CHECK(proto::IndexState{0, 0, 5}.complete());  // a holder left over, no file missing
  // From a tracker older than departed_holdings: none.
  auto older = codec::encode(std::make_tuple(sent.files, std::make_tuple(std::uint32_t{2}, std::uint64_t{1500})));
  REQUIRE(codec::decode(older, &got).ok());
  CHECK(got.index.rejoin_left_ms == 1500);
  CHECK(got.index.departed_holdings == 0);
}

TEST_CASE("array claiming more elements than bytes is rejected before allocating") {
  // dd ff ff ff ff: array32 of 4 billion elements in a 5-byte frame.
  const unsigned char bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  zmq::message_t frame(bomb, sizeof bomb);
  proto::AnnounceBody body;
  CHECK(codec::decode(frame, &body).code() == ErrorCode::kBadRequest);
}

namespace {

// A body of `n` empty arrays inside one array (array32 header, then 0x90 each).
std::string empty_arrays(std::size_t n) {
  std::string body = {static_cast<char>(0xdd), static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                      static_cast<char>(n >> 8), static_cast<char>(n)};
  body.append(n, static_cast<char>(0x90));
  return body;
}

}  // namespace

TEST_CASE("a body of more values than any real body holds is refused before it is unpacked") {
  // One value a byte: ~1.7 GB of msgpack-c objects and converted manifests
  // before, refused at the header now.
  const std::string bomb = empty_arrays(codec::kMaxBodyValues);
  std::vector<Manifest> files;
  Status s = codec::decode(bomb.data(), bomb.size(), &files);
  CHECK(s.code() == ErrorCode::kBadRequest);
  CHECK_THAT(s.message(), Catch::Contains("values"));
  // Within the budget the same shape decodes (and is the caller's to judge).
  const std::string fine = empty_arrays(1000);
  CHECK(codec::decode(fine.data(), fine.size(), &files).ok());
  CHECK(files.size() == 1000);
}

TEST_CASE("a body nested deeper than any real body is refused") {
  std::string deep(limits::kMaxDepth + 1, static_cast<char>(0x91));  // [[[...
  deep.push_back(static_cast<char>(0xc0));                             // nil
  proto::Empty body;
  CHECK(codec::decode(deep.data(), deep.size(), &body).code() == ErrorCode::kBadRequest);
}

TEST_CASE("bytes after a body are refused") {
  zmq::message_t frame = codec::encode(proto::ChunkRef{sha256("x", 1)});
  std::string padded(static_cast<const char*>(frame.data()), frame.size());
  proto::ChunkRef ref;
  REQUIRE(codec::decode(padded.data(), padded.size(), &ref).ok());
  padded += "garbage!!";
  Status s = codec::decode(padded.data(), padded.size(), &ref);
  CHECK(s.code() == ErrorCode::kBadRequest);
  CHECK_THAT(s.message(), Catch::Contains("after"));
}

TEST_CASE("hash of the wrong length is rejected") {
  proto::ChunkRef ref;
  std::vector<char> short_bin(31, 'a');
  auto frame = codec::encode(std::make_tuple(short_bin));
  CHECK(codec::decode(frame, &ref).code() == ErrorCode::kBadRequest);
  auto as_string = codec::encode(std::make_tuple(std::string(32, 'a')));
  CHECK(codec::decode(as_string, &ref).code() == ErrorCode::kBadRequest);
}

TEST_CASE("oversized string is rejected") {
  proto::SearchRequest req;
  auto frame = codec::encode(std::make_tuple(std::string(limits::kMaxStringBytes + 1, 'a')));
  CHECK(codec::decode(frame, &req).code() == ErrorCode::kBadRequest);
}

TEST_CASE("error reply carries code and message") {
  Pair p;
  REQUIRE(codec::send_envelope(p.dealer, codec::Layout::kDealer, nullptr, proto::Command::kLocate, 7,
                               codec::encode(proto::QueryRequest{"x"}))
              .ok());
  codec::Envelope req;
  REQUIRE(p.recv_router(&req).ok());
  REQUIRE(codec::send_error(p.router, codec::Layout::kRouter, req, {ErrorCode::kNotFound, "no file named x"}).ok());
  std::vector<zmq::pollitem_t> items{{p.dealer.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, std::chrono::milliseconds(2000));
  codec::Envelope reply;
  REQUIRE(codec::recv_envelope(p.dealer, codec::Layout::kDealer, &reply).ok());
  CHECK(reply.cmd() == proto::Command::kError);
  CHECK(reply.seq == 7);
  Status s = codec::error_from(reply);
  CHECK(s.code() == ErrorCode::kNotFound);
  CHECK(s.message() == "no file named x");
}

TEST_CASE("an error reply carries the failed endpoint for forward_failed only") {
  auto reply_of = [](const proto::ErrorBody& body) {
    codec::Envelope env;
    env.command = static_cast<std::uint8_t>(proto::Command::kError);
    env.body = codec::encode(body);
    return codec::error_from(env);
  };
  Status forward = reply_of({12, "tcp://b:1: no reply within 1000 ms", "tcp://b:1"});
  CHECK(forward.code() == ErrorCode::kForwardFailed);
  CHECK(forward.failed_endpoint() == "tcp://b:1");
  // A peer that fails itself blames no one else, whatever it sends.
  CHECK(reply_of({10, "capacity reached", "tcp://b:1"}).failed_endpoint().empty());
  // An ERROR from a peer older than the field: [code, message].
  codec::Envelope older;
  older.command = static_cast<std::uint8_t>(proto::Command::kError);
  older.body = codec::encode(std::make_tuple(std::uint16_t{12}, std::string("tcp://b:1: gone")));
  Status s = codec::error_from(older);
  CHECK(s.code() == ErrorCode::kForwardFailed);
  CHECK(s.message() == "tcp://b:1: gone");
  CHECK(s.failed_endpoint().empty());
}

TEST_CASE("an error code newer than this receiver is taken as internal with its message kept") {
  auto reply_of = [](std::uint16_t code) {
    codec::Envelope env;
    env.command = static_cast<std::uint8_t>(proto::Command::kError);
    env.body = codec::encode(proto::ErrorBody{code, "from a newer sender", ""});
    return codec::error_from(env);
  };
  const auto last = static_cast<std::uint16_t>(ErrorCode::kAnnouncing);
  CHECK(reply_of(last).code() == ErrorCode::kAnnouncing);
  const Status newer = reply_of(last + 1);
  CHECK(newer.code() == ErrorCode::kInternal);
  CHECK(newer.message() == "from a newer sender");
  CHECK(reply_of(0).code() == ErrorCode::kInternal);
}

TEST_CASE("bodies on both sides of the copy threshold round-trip, each message its own") {
  // Below kEncodeCopyMaxBytes the body is copied out of the thread's packing
  // buffer, above it the buffer is handed over: neither message may change
  // when the next body is encoded.
  // Each element packs to 9 bytes (0xcf + 8).
  for (std::size_t bytes : {std::size_t{18}, codec::kEncodeCopyMaxBytes - 64, codec::kEncodeCopyMaxBytes + 9,
                            4 * codec::kEncodeCopyMaxBytes}) {
    const std::vector<std::uint64_t> first(bytes / 9, 0x0101010101010101);
    const std::vector<std::uint64_t> second(bytes / 9, 0x0202020202020202);
    zmq::message_t frame = codec::encode(first);
    zmq::message_t next = codec::encode(second);
    CHECK(frame.size() >= bytes - 9);
    std::vector<std::uint64_t> back;
    REQUIRE(codec::decode(frame, &back).ok());
    CHECK(back == first);
    REQUIRE(codec::decode(next, &back).ok());
    CHECK(back == second);
  }
}

TEST_CASE("a body decodes after a rejected one on the same thread") {
  // decode() reuses one unpacking zone per thread: a failure must leave it usable.
  const unsigned char bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  proto::AnnounceBody body;
  REQUIRE(codec::decode(zmq::message_t(bomb, sizeof bomb), &body).code() == ErrorCode::kBadRequest);
  auto wrong = codec::encode(std::make_tuple(std::string("name"), std::string("not a number")));
  proto::PlaceRequest req;
  REQUIRE(codec::decode(wrong, &req).code() == ErrorCode::kBadRequest);
  REQUIRE(codec::decode(codec::encode(proto::PlaceRequest{"movie.mkv", 42, 3, {}}), &req).ok());
  CHECK(req.name == "movie.mkv");
  CHECK(req.size == 42);
}
