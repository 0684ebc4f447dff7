// ServiceLink: one peer service's DEALER connection to the tracker, the worker
// side of the Majordomo-shaped control plane (docs/design-brief.md "Control plane").
//
// - Each new socket sends READY once.
// - HEARTBEAT goes out every heartbeat interval in which nothing else was sent.
// - Any message from the tracker counts as a heartbeat.
// - DISCONNECT from the tracker, or liveness x heartbeat of tracker silence,
//   closes the socket and opens a new one (a new routing id), which sends
//   READY again. This is how a service rejoins a restarted tracker.
// - Once the tracker is heard on a new socket, events().rejoined is set so the
//   owner re-announces what it holds (storage announces every file).
// - Other tracker commands (REPLICATE) are handed to the owner.
//
// Usage, in the owning thread:
//   ServiceLink link(ctx, options);
//   for (;;) {
//     items = {{link.socket().handle(), 0, ZMQ_POLLIN, 0}, ...};
//     zmq::poll(items, min(until(link.next_deadline()), ...));
//     LinkEvents ev = link.process(items[0].revents & ZMQ_POLLIN);
//   }
//   link.leave();
//
// Thread affinity: created, used and destroyed by one thread (it owns a
// socket). The socket is replaced on reconnect: take socket() afresh for
// every poll. Never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/protocol.h"
#include "common/sockets.h"

namespace p2p {

struct ServiceLinkOptions {
  std::string tracker_endpoint;
  proto::ReadyBody ready;  // sent on every new socket; free_bytes is refreshed from `free_bytes`
  std::chrono::milliseconds heartbeat{1000};
  int liveness = 3;  // tracker silence of liveness x heartbeat means it is gone
  // Reported in READY and HEARTBEAT (storage); null = 0 (other services).
  std::function<std::uint64_t()> free_bytes;
  // Reported in HEARTBEAT (replication: copies running now); null = 0.
  // Called in the link's thread.
  std::function<std::uint32_t()> copies;
  // Messages queued to the tracker before send() says kUnavailable; 0 keeps
  // libzmq's 1,000. Tests shrink it to fill the queue with a few messages.
  int send_queue = 0;
};

struct LinkEvents {
  bool rejoined = false;                  // registered on a new connection: re-announce
  std::vector<codec::Envelope> commands;  // tracker commands for the owner (e.g. REPLICATE)
};

class ServiceLink {
 public:
  // Opens the first socket and sends READY. The tracker need not be up.
  ServiceLink(zmq::context_t& ctx, ServiceLinkOptions options);
  ~ServiceLink() = default;
  ServiceLink(const ServiceLink&) = delete;
  ServiceLink& operator=(const ServiceLink&) = delete;

  zmq::socket_t& socket() { return socket_; }
  // When process() next has timed work (a heartbeat or a reconnect).
  Clock::time_point next_deadline() const;

  // Reads every waiting tracker message (when `readable`), then sends a due
  // heartbeat or reconnects a silent link.
  LinkEvents process(bool readable);

  // Sends a command to the tracker without blocking; counts as a heartbeat.
  // kUnavailable when the socket's queue is full (the tracker is long gone).
  Status send(proto::Command command, zmq::message_t body);

  // Sends DISCONNECT and closes the socket, giving the message a short
  // bounded linger to leave. The link is spent afterwards.
  void leave();

  // True once the tracker has answered on the current socket: a command sent
  // now reaches a tracker that knows this service. After a reconnect it is
  // false until the next LinkEvents::rejoined.
  bool joined() const { return heard_since_connect_ && !left_; }

  // Number of sockets opened so far (1 + reconnects). For logs and tests.
  std::uint64_t connections() const { return connections_; }

 private:
  void connect();  // new socket + READY
  void reconnect(const char* why);

  zmq::context_t& ctx_;
  ServiceLinkOptions options_;
  zmq::socket_t socket_;
  std::uint64_t seq_ = 0;
  std::uint64_t connections_ = 0;
  bool heard_since_connect_ = false;
  bool left_ = false;
  Clock::time_point last_send_{};
  Clock::time_point last_heard_{};
};

}  // namespace p2p
