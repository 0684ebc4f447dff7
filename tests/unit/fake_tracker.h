// FakeTracker: a tracker ROUTER served from the test thread, for tests of peer
// services that run their own threads and connect their ServiceLinks to it.
//
// Every wait polls against a deadline. Messages received while waiting for
// something else are kept (heartbeats are recorded, then dropped), so a test
// may ask for them in any order. Services are told apart by the `service`
// of their READY.
// Thread affinity: the test thread only. The context must outlive it.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/limits.h"
#include "common/sockets.h"

namespace p2p::test {

class FakeTracker {
 public:
  using Match = std::function<bool(const codec::Envelope&)>;

  explicit FakeTracker(zmq::context_t& ctx)
      : router_(make_socket(ctx, zmq::socket_type::router, limits::kMaxControlMessage)) {
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = bound_endpoint(router_);
  }

  const std::string& endpoint() const { return endpoint_; }

  // The first message matching `match` within `timeout`, held ones first.
  std::optional<codec::Envelope> next_where(const Match& match,
                                            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (!match(*it)) continue;
      codec::Envelope env = std::move(*it);
      held_.erase(it);
      return env;
    }
    const auto deadline = Clock::now() + timeout;
    std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0}};
    while (Clock::now() < deadline) {
      zmq::poll(items, until(deadline));
      codec::Envelope env;
      while (codec::recv_envelope(router_, codec::Layout::kRouter, &env).ok()) {
        note(env);
        if (match(env)) return env;
        if (env.cmd() != proto::Command::kHeartbeat) held_.push_back(std::move(env));
        env = codec::Envelope{};
      }
    }
    return std::nullopt;
  }

  // The next `command` from the service named `service` (any service when empty).
  std::optional<codec::Envelope> next_of(proto::Command command, const std::string& service = "",
                                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return next_where(
        [&](const codec::Envelope& env) { return env.cmd() == command && (service.empty() || service_of(env) == service); },
        timeout);
  }

  // True when no message matching `match` arrives within `window`.
  bool none_within(const Match& match, std::chrono::milliseconds window) { return !next_where(match, window); }

  std::string service_of(const codec::Envelope& env) const {
    auto it = services_.find(routing_id(env));
    return it == services_.end() ? "" : it->second;
  }

  void send(const codec::Envelope& to, proto::Command command, zmq::message_t body) {
    REQUIRE(codec::send_envelope(router_, codec::Layout::kRouter, &to.routing, command, 0, std::move(body)).ok());
  }

  static std::string routing_id(const codec::Envelope& env) { return env.routing.at(0).to_string(); }

 private:
  void note(const codec::Envelope& env) {
    if (env.cmd() != proto::Command::kReady) return;
    proto::ReadyBody ready;
    if (codec::decode(env.body, &ready).ok()) services_[routing_id(env)] = ready.service;
  }

  zmq::socket_t router_;
  std::string endpoint_;
  std::deque<codec::Envelope> held_;
  std::map<std::string, std::string> services_;  // routing id -> service, from READY
};

}  // namespace p2p::test
