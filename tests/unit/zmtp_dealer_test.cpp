#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench/zmtp_dealer.h"
#include "common/sockets.h"

using p2p::bench::ZmtpDealer;
using namespace std::chrono_literals;

namespace {

int port_of(zmq::socket_t& router) {
  const std::string ep = p2p::bound_endpoint(router);
  return std::stoi(ep.substr(ep.rfind(':') + 1));
}

// Receives on `d` until a message is complete or 5 s pass.
p2p::Status receive_some(ZmtpDealer& d, std::vector<std::vector<std::string>>* out) {
  const auto deadline = p2p::Clock::now() + 5s;
  while (out->empty() && p2p::Clock::now() < deadline) {
    pollfd pfd{d.fd(), POLLIN, 0};
    ::poll(&pfd, 1, 100);
    if (p2p::Status s = d.receive(out); !s.ok()) return s;
  }
  return out->empty() ? p2p::Status{p2p::ErrorCode::kTimeout, "no message"} : p2p::Status::Ok();
}

}  // namespace

TEST_CASE("a raw ZMTP dealer talks to a libzmq ROUTER frame by frame, both ways") {
  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.bind("tcp://127.0.0.1:*");
  auto dealer = ZmtpDealer::connect("127.0.0.1", port_of(router), 5000ms, 1 << 20);
  REQUIRE(dealer.ok());

  REQUIRE(dealer->send({std::string_view(), "hello", std::string(300, 'w')}).ok());
  std::vector<zmq::message_t> in;
  router.set(zmq::sockopt::rcvtimeo, 5000);
  REQUIRE(zmq::recv_multipart(router, std::back_inserter(in)));
  REQUIRE(in.size() == 4);  // [routing id][empty][hello][w x 300]
  CHECK(in[1].size() == 0);
  CHECK(in[2].to_string() == "hello");
  CHECK(in[3].to_string() == std::string(300, 'w'));

  std::vector<zmq::message_t> reply;
  reply.emplace_back(in[0].data(), in[0].size());
  reply.emplace_back();
  reply.emplace_back(std::string("a"));
  reply.emplace_back(std::string(70000, 'r'));  // a long frame (8-byte size)
  REQUIRE(zmq::send_multipart(router, reply));
  std::vector<std::vector<std::string>> got;
  REQUIRE(receive_some(dealer.value(), &got).ok());
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].size() == 3);
  CHECK(got[0][0].empty());
  CHECK(got[0][1] == "a");
  CHECK(got[0][2] == std::string(70000, 'r'));
}

TEST_CASE("a raw ZMTP dealer refuses a message above its limit") {
  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.bind("tcp://127.0.0.1:*");
  auto dealer = ZmtpDealer::connect("127.0.0.1", port_of(router), 5000ms, 100);
  REQUIRE(dealer.ok());
  REQUIRE(dealer->send({std::string_view(), "hi"}).ok());
  std::vector<zmq::message_t> in;
  router.set(zmq::sockopt::rcvtimeo, 5000);
  REQUIRE(zmq::recv_multipart(router, std::back_inserter(in)));
  std::vector<zmq::message_t> reply;
  reply.emplace_back(in[0].data(), in[0].size());
  reply.emplace_back();
  reply.emplace_back(std::string(200, 'x'));
  REQUIRE(zmq::send_multipart(router, reply));
  std::vector<std::vector<std::string>> got;
  const p2p::Status s = receive_some(dealer.value(), &got);
  CHECK(s.code() == p2p::ErrorCode::kBadRequest);
  CHECK(got.empty());
}

TEST_CASE("a raw ZMTP dealer refuses frames whose sizes wrap around 2^64") {
  // A raw server: libzmq would never send such sizes. 16 + (2^64 - 16) is 0
  // in 64 bits, so a sum checked after adding would pass the limit.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::jthread server([listener] {  // joined also when a REQUIRE below fails
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    std::string bytes(64, '\0');  // greeting: signature, version 3.0, NULL
    bytes[0] = static_cast<char>(0xFF);
    bytes[9] = 0x7F;
    bytes[10] = 3;
    bytes.replace(12, 4, "NULL");
    const std::string ready = std::string("\5READY\13Socket-Type\0\0\0\6ROUTER", 28);
    bytes += std::string{'\x04', static_cast<char>(ready.size())} + ready;
    bytes += std::string{'\x01', '\x10'} + std::string(16, 'x');            // 16 bytes, more to come
    bytes += std::string{'\x02'} + std::string(7, '\xFF') + std::string{'\xF0'};  // then 2^64 - 16
    (void)::write(fd, bytes.data(), bytes.size());
    char drain[256];
    while (::read(fd, drain, sizeof drain) > 0) {
    }
    ::close(fd);
  });
  {
    auto dealer = ZmtpDealer::connect("127.0.0.1", ntohs(addr.sin_port), 5000ms, 1 << 20);
    REQUIRE(dealer.ok());
    std::vector<std::vector<std::string>> got;
    CHECK(receive_some(dealer.value(), &got).code() == p2p::ErrorCode::kBadRequest);
    CHECK(got.empty());
  }  // closing the dealer ends the server's read loop
  server.join();
  ::close(listener);
}

TEST_CASE("a raw ZMTP dealer fails to connect where nothing listens") {
  CHECK_FALSE(ZmtpDealer::connect("127.0.0.1", 1, 1000ms, 1 << 20).ok());
  CHECK(ZmtpDealer::connect("not-an-address", 5555, 1000ms, 1 << 20).status().code() == p2p::ErrorCode::kBadRequest);
}
