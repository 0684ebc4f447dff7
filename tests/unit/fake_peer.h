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
#include <optional>
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
  static FakeReply error(ErrorCode code, const std::string& message) {
    FakeReply r;
    r.command = proto::Command::kError;
    r.body = codec::encode(proto::ErrorBody{static_cast<std::uint16_t>(code), message});
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

}  // namespace p2p::test
