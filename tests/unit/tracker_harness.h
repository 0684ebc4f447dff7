// Test harness for the tracker broker: the broker on its own thread, and
// DEALER sockets playing clients and peer services over TCP with the real
// protocol (common/codec). Shared by the broker test files.
//
// Every wait polls against a deadline (kPatience); nothing sleeps to
// synchronise. Thread affinity: the test thread, except the broker's own.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <optional>
#include <thread>

#include "common/codec.h"
#include "common/limits.h"
#include "common/sockets.h"
#include "services/tracker/broker.h"
#include "tests/support/fake_manifest.h"

namespace p2p::tracker_test {

using namespace std::chrono_literals;
using proto::Command;

// Long enough that nothing expires during a test that does not heartbeat.
constexpr auto kSlowHeartbeat = 1000ms;
constexpr int kSlowLiveness = 30;
constexpr auto kPatience = 3000ms;  // how long a test waits for a condition

inline tracker::TrackerOptions options(std::chrono::milliseconds heartbeat = kSlowHeartbeat,
                                      int liveness = kSlowLiveness) {
  tracker::TrackerOptions o;
  o.endpoint = "tcp://127.0.0.1:0";
  o.heartbeat = heartbeat;
  o.liveness = liveness;
  o.replicas = 3;
  o.rejoin_window = 0ms;  // unknown names are not_found at once, unless a peer is announcing
  return o;
}

// The broker on its own thread; stopped and joined on destruction.
// Declare sockets after it: they must close before the context does.
struct RunningBroker {
  zmq::context_t ctx;
  tracker::Broker broker;
  std::string endpoint;
  Status result{ErrorCode::kInternal, "still running"};
  std::thread thread;

  explicit RunningBroker(tracker::TrackerOptions o) : broker(ctx, std::move(o)) {
    Result<std::string> ep = broker.bind();
    REQUIRE(ep.ok());
    endpoint = ep.value();
    thread = std::thread([this] { result = broker.run(); });
  }
  ~RunningBroker() {
    broker.stop();
    thread.join();
  }
};

// A DEALER to the tracker: plays a client or a peer service.
struct Dealer {
  zmq::socket_t socket;
  std::uint64_t seq = 1;

  Dealer(zmq::context_t& ctx, const std::string& endpoint)
      : socket(make_socket(ctx, zmq::socket_type::dealer, limits::kMaxControlMessage)) {
    socket.connect(endpoint);
  }

  std::uint64_t send(Command command, zmq::message_t body) {
    const std::uint64_t s = seq++;
    REQUIRE(codec::send_envelope(socket, codec::Layout::kDealer, nullptr, command, s, std::move(body)).ok());
    return s;
  }
  template <class T>
  std::uint64_t send(Command command, const T& body) {
    return send(command, codec::encode(body));
  }

  // Raw frames after the delimiter, for malformed input.
  void send_raw(std::vector<zmq::message_t> frames) {
    socket.send(zmq::message_t(), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i)
      socket.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }

  // The next message, or nullopt after `timeout`.
  std::optional<codec::Envelope> recv(std::chrono::milliseconds timeout = kPatience) {
    const auto deadline = Clock::now() + timeout;
    do {
      std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, until(deadline));
      codec::Envelope env;
      Status s = codec::recv_envelope(socket, codec::Layout::kDealer, &env);
      if (s.ok()) return env;
      REQUIRE(s.code() == ErrorCode::kTimeout);
    } while (Clock::now() < deadline);
    return std::nullopt;
  }

  // The next message with `command`, skipping others (tracker heartbeats).
  std::optional<codec::Envelope> recv_command(Command command, std::chrono::milliseconds timeout = kPatience) {
    const auto deadline = Clock::now() + timeout;
    while (auto env = recv(until(deadline))) {
      if (env->cmd() == command) return env;
    }
    return std::nullopt;
  }

  // The reply to request `s`: OK or ERROR.
  codec::Envelope reply_to(std::uint64_t s) {
    const auto deadline = Clock::now() + kPatience;
    while (auto env = recv(until(deadline))) {
      if ((env->cmd() == Command::kOk || env->cmd() == Command::kError) && env->seq == s) return std::move(*env);
    }
    FAIL("no reply from the tracker");
    return {};
  }

  // A request/reply round trip; an ERROR reply becomes its Status.
  template <class Reply, class Request>
  Result<Reply> call(Command command, const Request& request) {
    codec::Envelope env = reply_to(send(command, request));
    if (env.cmd() == Command::kError) return codec::error_from(env);
    Reply reply;
    if (Status s = codec::decode(env.body, &reply); !s.ok()) return s;
    return reply;
  }
};

// A peer service on its own connection.
struct Service : Dealer {
  Service(zmq::context_t& ctx, const std::string& endpoint, const std::string& peer_id,
          const char* service = proto::kServiceStorage, std::uint64_t free_bytes = 1000)
      : Service(ctx, endpoint, ready_of(peer_id, service, free_bytes)) {}
  // With every READY field chosen (incarnation, data endpoint).
  Service(zmq::context_t& ctx, const std::string& endpoint, const proto::ReadyBody& ready) : Dealer(ctx, endpoint) {
    send(Command::kReady, ready);
  }
  static proto::ReadyBody ready_of(const std::string& peer_id, const char* service = proto::kServiceStorage,
                                   std::uint64_t free_bytes = 1000, std::uint64_t incarnation = 0) {
    return {peer_id, service, "tcp://127.0.0.1:7" + peer_id.substr(peer_id.size() - 1) + "00", 10000, free_bytes,
            incarnation};
  }
  // `complete`: the last batch of the announcement after READY.
  void announce(std::vector<Manifest> files, bool complete = false) {
    send(Command::kAnnounce, proto::AnnounceBody{std::move(files), complete});
  }
  void heartbeat(std::uint64_t free_bytes = 0) { send(Command::kHeartbeat, proto::HeartbeatBody{free_bytes}); }
};

using test::fake_manifest;

// Polls `condition` until it holds or `patience` passes. `between` runs
// between attempts (e.g. to keep a service heartbeating); the short pause
// only paces the polling, it synchronises nothing.
inline bool eventually(const std::function<bool()>& condition, const std::function<void()>& between = {},
                       std::chrono::milliseconds patience = kPatience) {
  const auto deadline = Clock::now() + patience;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    if (between) between();
    std::vector<zmq::pollitem_t> none;
    zmq::poll(none, 5ms);
  }
  return condition();
}

template <class T>
ErrorCode code_of(const Result<T>& r) {
  return r.status().code();
}

inline std::uint32_t live_peers(Dealer& client) {
  auto status = client.call<proto::StatusReply>(Command::kStatus, proto::Empty{});
  REQUIRE(status.ok());
  return status->peers;
}

inline zmq::message_t header(std::uint8_t version, std::uint8_t command, std::uint64_t seq) {
  return codec::encode(std::make_tuple(version, command, seq));
}


}  // namespace p2p::tracker_test
