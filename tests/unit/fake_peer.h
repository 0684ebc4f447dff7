// FakePeer: a ROUTER served from a helper thread, for unit tests of clients
// of the data plane and the tracker. Each request is passed to a handler
// (run in the helper thread) that decides the reply, or no reply at all.
//
// The helper thread creates, binds, uses and closes the socket. Binding to an
// inproc endpoint after the client connected is fine (libzmq >= 4.2), so
// tests need no start-up handshake. A wildcard tcp endpoint
// ("tcp://127.0.0.1:*") is resolved by bound(), which waits for the bind.
// The context must outlive the FakePeer.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/limits.h"
#include "common/sockets.h"

namespace p2p::test {

struct FakeReply {
  bool send = true;  // false: stay silent
  proto::Command command = proto::Command::kOk;
  zmq::message_t body = codec::encode(proto::Empty{});
  std::optional<std::string> data;  // data frame

  static FakeReply silence() {
    FakeReply r;
    r.send = false;
    return r;
  }
  static FakeReply error(ErrorCode code, const std::string& message, const std::string& failed_endpoint = "") {
    FakeReply r;
    r.command = proto::Command::kError;
    r.body = codec::encode(proto::ErrorBody{static_cast<std::uint16_t>(code), message, failed_endpoint});
    return r;
  }
};

class FakePeer {
 public:
  using Handler = std::function<FakeReply(const codec::Envelope&)>;

  FakePeer(zmq::context_t& ctx, std::string endpoint, Handler handler)
      : ctx_(ctx), endpoint_(std::move(endpoint)), handler_(std::move(handler)), thread_([this] { serve(); }) {}
  ~FakePeer() {
    stop_ = true;
    thread_.join();
  }
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;

  int requests() const { return requests_; }

  // The endpoint the helper thread bound (a resolved wildcard port); empty
  // if it did not bind within 5 s.
  std::string bound() {
    if (bound_future_.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return "";
    return bound_future_.get();
  }

 private:
  void serve() {
    zmq::socket_t router = make_socket(ctx_, zmq::socket_type::router, limits::kMaxDataPlaneMessage);
    router.bind(endpoint_);
    bound_promise_.set_value(bound_endpoint(router));
    while (!stop_) {
      std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::chrono::milliseconds(20));  // bounded: re-checks stop_
      codec::Envelope env;
      while (codec::recv_envelope(router, codec::Layout::kRouter, &env).ok()) {
        ++requests_;
        FakeReply reply = handler_(env);
        if (!reply.send) continue;
        std::optional<zmq::message_t> data;
        if (reply.data) data.emplace(reply.data->data(), reply.data->size());
        (void)codec::send_envelope(router, codec::Layout::kRouter, &env.routing, reply.command, env.seq,
                                   std::move(reply.body), data ? &*data : nullptr);
      }
    }
  }

  zmq::context_t& ctx_;
  std::string endpoint_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::promise<std::string> bound_promise_;
  std::shared_future<std::string> bound_future_ = bound_promise_.get_future().share();
  std::thread thread_;  // last: starts after every other member is ready
};

// VanishingPeer: a silent FakePeer on a free tcp port that goes away (its
// socket closes, as when its process exits or is killed) once it has seen its
// first request, or after 5 s without one. For tests of what notices a holder
// or next peer vanishing. A helper thread closes it; the destructor joins.
class VanishingPeer {
 public:
  explicit VanishingPeer(zmq::context_t& ctx)
      : peer_(std::make_unique<FakePeer>(ctx, "tcp://127.0.0.1:*",
                                         [](const codec::Envelope&) { return FakeReply::silence(); })),
        endpoint_(peer_->bound()),
        closer_([this] {
          const auto deadline = Clock::now() + std::chrono::seconds(5);
          while (peer_->requests() == 0 && Clock::now() < deadline) std::this_thread::yield();
          seen_ = peer_->requests();
          peer_.reset();
          gone_.set_value();
        }) {}
  ~VanishingPeer() { closer_.join(); }
  VanishingPeer(const VanishingPeer&) = delete;
  VanishingPeer& operator=(const VanishingPeer&) = delete;

  // Empty if the bind failed.
  const std::string& endpoint() const { return endpoint_; }

  // Waits (at most 6 s) until it has closed; the requests it saw by then.
  int wait_gone() {
    if (gone_future_.wait_for(std::chrono::seconds(6)) != std::future_status::ready) return 0;
    return seen_;
  }

 private:
  std::unique_ptr<FakePeer> peer_;
  std::string endpoint_;
  std::atomic<int> seen_{0};
  std::promise<void> gone_;
  std::future<void> gone_future_ = gone_.get_future();
  std::thread closer_;  // last: starts after every other member is ready
};

// HeldPeer: a ROUTER on a free tcp port that the test's own thread drives:
// take() the next request, then answer it (codec::send_reply on `socket`),
// later, out of order, or never. For replies FakePeer's handler cannot hold.
struct HeldPeer {
  zmq::socket_t socket;
  std::string endpoint;

  explicit HeldPeer(zmq::context_t& ctx)
      : socket(make_socket(ctx, zmq::socket_type::router, limits::kMaxDataPlaneMessage)) {
    socket.bind("tcp://127.0.0.1:*");
    endpoint = bound_endpoint(socket);
  }

  // The next request; fails the test after 5 s without one.
  codec::Envelope take() {
    codec::Envelope request;
    const Status s = codec::recv_envelope_until(socket, codec::Layout::kRouter,
                                                Clock::now() + std::chrono::seconds(5), &request);
    if (!s.ok()) throw std::runtime_error("HeldPeer: no request within 5 s: " + s.to_string());
    return request;
  }
};

}  // namespace p2p::test
