// Error exits of the CLI, and servers that keep serving after garbage input.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/protocol.h"
#include "common/sockets.h"
#include "common/status.h"
#include "tests/support/cluster.h"
#include "tests/support/json_output.h"
#include "tests/support/random_file.h"

using namespace p2p::test;
namespace fs = std::filesystem;
namespace codec = p2p::codec;
namespace proto = p2p::proto;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;

zmq::message_t bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  zmq::message_t m(n);
  auto* p = static_cast<unsigned char*>(m.data());
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(rng());
  return m;
}

zmq::message_t raw(std::initializer_list<unsigned char> b) {
  zmq::message_t m(b.size());
  std::copy(b.begin(), b.end(), static_cast<unsigned char*>(m.data()));
  return m;
}

void send_frames(zmq::socket_t& s, std::vector<zmq::message_t> frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    s.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

zmq::message_t header(std::uint8_t version, std::uint8_t command, std::uint64_t seq) {
  return codec::encode(std::make_tuple(version, command, seq));
}

// Malformed messages of every kind a DEALER can send to a ROUTER.
void send_garbage(zmq::socket_t& s) {
  send_frames(s, [] { std::vector<zmq::message_t> v; v.push_back(bytes(100, 1)); return v; }());  // no delimiter
  send_frames(s, [] { std::vector<zmq::message_t> v; v.emplace_back(); return v; }());            // delimiter only
  {
    std::vector<zmq::message_t> v;
    v.emplace_back();
    v.push_back(bytes(300, 2));  // header is not msgpack
    send_frames(s, std::move(v));
  }
  {
    std::vector<zmq::message_t> v;
    v.emplace_back();
    v.push_back(header(1, static_cast<std::uint8_t>(proto::Command::kList), 3));
    v.push_back(raw({0xdd, 0xff, 0xff, 0xff, 0xff}));  // body claims 4 billion elements
    send_frames(s, std::move(v));
  }
  {
    std::vector<zmq::message_t> v;
    v.emplace_back();
    v.push_back(header(9, static_cast<std::uint8_t>(proto::Command::kList), 4));  // wrong version
    v.push_back(codec::encode(proto::Empty{}));
    send_frames(s, std::move(v));
  }
  {
    std::vector<zmq::message_t> v;
    v.emplace_back();
    for (int i = 0; i < 20; ++i) v.push_back(bytes(10, 10 + i));  // too many frames
    send_frames(s, std::move(v));
  }
  {
    std::vector<zmq::message_t> v;
    v.emplace_back();
    v.push_back(header(1, static_cast<std::uint8_t>(proto::Command::kGetChunk), 5));
    v.push_back(codec::encode(std::make_tuple(std::string("not a hash"))));  // wrong field type
    send_frames(s, std::move(v));
  }
  {
    std::vector<zmq::message_t> v;
    v.emplace_back();
    v.push_back(bytes(kMiB, 6));  // large garbage header
    send_frames(s, std::move(v));
  }
}

// Sends `command` with `seq` and waits for the reply carrying that seq (earlier
// error replies to garbage are skipped). Returns the reply's command, or -1.
int request(zmq::socket_t& s, std::uint8_t command, std::uint64_t seq, proto::ErrorBody* error = nullptr) {
  p2p::Status sent = codec::send_envelope(s, codec::Layout::kDealer, nullptr, static_cast<proto::Command>(command), seq,
                                     codec::encode(proto::Empty{}));
  if (!sent.ok()) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    codec::Envelope env;
    if (!codec::recv_envelope(s, codec::Layout::kDealer, &env).ok() || env.seq != seq) continue;
    if (error != nullptr && env.cmd() == proto::Command::kError) (void)codec::decode(env.body, error);
    return env.command;
  }
  return -1;
}

// Writes bytes that are not ZMTP at all to a TCP endpoint.
void send_raw_tcp(const std::string& endpoint) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(endpoint_port(endpoint)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    zmq::message_t junk = bytes(64 * 1024, 7);
    (void)!::write(fd, junk.data(), junk.size());
  }
  ::close(fd);
}

// Throws garbage at a ROUTER, then checks that it still answers the same
// connection (`probe` must get OK) and an unknown command gets ERROR.
void garbage_then_probe(const std::string& endpoint, proto::Command probe) {
  send_raw_tcp(endpoint);
  zmq::context_t ctx;
  zmq::socket_t s = p2p::make_socket(ctx, zmq::socket_type::dealer, 64 * kMiB);
  s.connect(endpoint);
  send_garbage(s);
  proto::ErrorBody error;
  CHECK(request(s, 99, 1000, &error) == static_cast<int>(proto::Command::kError));
  CHECK(error.code == static_cast<std::uint16_t>(p2p::ErrorCode::kUnknownCommand));
  CHECK(request(s, static_cast<std::uint8_t>(probe), 1001) == static_cast<int>(proto::Command::kOk));
}

}  // namespace

TEST_CASE("get and stat of an unknown name or file id exit 4", "[errors]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  for (std::vector<std::string> args :
       {std::vector<std::string>{"get", "no-such-file", "-o", c.path("out").string()},
        std::vector<std::string>{"get", std::string(64, 'a'), "-o", c.path("out").string()},
        std::vector<std::string>{"stat", "no-such-file"}}) {
    RunResult r = c.p2p(args);
    INFO(describe(r));
    CHECK(r.exit_code == 4);
  }
  CHECK_FALSE(fs::exists(c.path("out")));
}

TEST_CASE("every command exits 3 within seconds when the tracker is down", "[errors]") {
  Cluster c(ClusterOptions{}.with_peers(0));
  fs::path src = c.path("src");
  write_random_file(src, 10, 1);
  c.stop_tracker(SIGKILL);
  // All four at once (each waits out its own --timeout-ms 3000, which the
  // cluster passes), so the case takes one timeout instead of four.
  const std::vector<std::vector<std::string>> commands = {
      {"ls"}, {"peers"}, {"get", "x", "-o", c.path("out").string()}, {"put", src.string()}};
  std::vector<Process> running;
  for (std::size_t i = 0; i < commands.size(); ++i)
    running.push_back(c.p2p_background(commands[i], "command" + std::to_string(i) + ".log"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    std::optional<int> code = running[i].wait(std::max(left, std::chrono::milliseconds(0)));
    INFO("p2p " << commands[i][0] << ": " << running[i].log_tail());
    CHECK(code == std::optional<int>(3));  // nullopt: still running 8 s after the start
  }
}

TEST_CASE("put with no live peers exits 5", "[errors]") {
  Cluster c(ClusterOptions{}.with_peers(0));
  fs::path src = c.path("src");
  write_random_file(src, 1000, 2);
  RunResult r = c.p2p({"put", src.string()});
  INFO(describe(r));
  CHECK(r.exit_code == 5);
}

TEST_CASE("put larger than every peer's capacity exits 9", "[errors]") {
  Cluster c(ClusterOptions{}.with_peers(1).with_peer_args({"--capacity", "64K"}));
  fs::path src = c.path("src");
  write_random_file(src, kMiB, 3);
  RunResult r = c.p2p({"put", src.string()});
  INFO(describe(r));
  CHECK(r.exit_code == 9);
  CHECK(parse_json(c.p2p({"ls", "--json"})).empty());
}

TEST_CASE("garbage frames sent to the tracker's and a peer's ROUTER do not stop them serving", "[errors][robustness]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  fs::path src = c.path("src");
  write_random_file(src, 2 * kMiB + 1, 4);
  REQUIRE(c.p2p({"put", src.string(), "--name", "f.bin"}).exit_code == 0);

  SECTION("tracker") { garbage_then_probe(c.tracker_endpoint(), proto::Command::kList); }
  SECTION("peer") { garbage_then_probe(c.peer_endpoint(0), proto::Command::kPing); }

  CHECK(c.tracker_process().running());
  CHECK(c.peer_process(0).running());
  CHECK(c.live_peers() == 1u);
  RunResult get = c.p2p({"get", "f.bin", "-o", c.path("out").string()});
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  CHECK(same_content(src, c.path("out")));
}

TEST_CASE("flags and paths a command cannot honour exit 2 or 7, not a later failure", "[errors]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  fs::create_directories(c.path("d"));
  struct Case {
    std::vector<std::string> args;
    int exit_code;
  };
  for (const Case& k : {Case{{"--timeout-ms", "10000000000000", "ls"}, 2},   // overflowed every deadline
                        Case{{"--chunk-timeout-ms", "9223372036854775807", "ls"}, 2},
                        Case{{"put", c.path("d").string() + "/"}, 7},        // a directory, not the name ''
                        Case{{"put", "."}, 7}}) {
    RunResult r = c.p2p(k.args);
    INFO(describe(r));
    CHECK(r.exit_code == k.exit_code);
  }
}

TEST_CASE("a name that is not UTF-8 still prints as JSON, for its put and every listing", "[errors]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  fs::path src = c.path("src");
  write_random_file(src, 1000, 4);
  const std::string name = "bad\xff" "name";
  RunResult put = c.p2p({"put", src.string(), "--name", name, "--json"});
  INFO(describe(put));
  REQUIRE(put.exit_code == 0);
  const std::string file_id = parse_json(put)["file_id"].get<std::string>();
  for (std::vector<std::string> args : {std::vector<std::string>{"ls", "--json"},
                                        std::vector<std::string>{"search", "bad", "--json"},
                                        std::vector<std::string>{"get", file_id, "-o", c.path("out").string(), "--json"}}) {
    RunResult r = c.p2p(args);
    INFO(describe(r));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(file_id) != std::string::npos);
    CHECK(r.out.find("bad\xef\xbf\xbd" "name") != std::string::npos);  // U+FFFD for the byte
  }
}
