// TrackerClient: request/reply to the tracker over a DEALER.
//
// Each call sends one request with a fresh seq and waits up to `timeout` for
// the reply with that seq; replies with other seqs (late answers to earlier,
// timed-out requests) are dropped. ZeroMQ connects asynchronously, so an
// absent tracker is only ever detected by that timeout (kTimeout): a connect
// that is refused is tried again by libzmq, and the request goes out once the
// tracker listens. After a timeout the socket is closed and reopened (Lazy
// Pirate, zguide ch.4) so the unanswered request is not delivered later by a
// reconnect.
//
// A connection that closes while a request waits for its reply (the tracker
// was killed or restarted: DisconnectWatch) lost that request with it. The
// request is then sent again at once on a new socket, within the same
// deadline, at most kMaxResends times a call, so a restarted tracker answers
// it instead of the caller waiting out the timeout. Every client request is
// safe to repeat: queries read, PLACE ranks, PUBLISH of the same manifest and
// holders binds the same, LEAVE of a draining peer drains it again.
//
// A timeout while the connection is up (DisconnectWatch::up(): the tracker's
// I/O thread completed the handshake, its broker did not answer) is a busy
// tracker, which busy() reports, rather than an absent one; callers with a
// retry budget ask a busy tracker again (docs/protocol.md 5.4).
//
// An ERROR reply becomes its Status (code and message); a malformed reply
// or an undecodable body is kBadRequest. Never throws.
//
// Ownership: owns its socket; the context must outlive the client.
// Thread affinity: one thread (the socket's owner) for the whole lifetime.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/disconnect_watch.h"
#include "common/protocol.h"
#include "common/status.h"

namespace p2p {

class TrackerClient {
 public:
  // Sends of one request on a new connection after its connection closed
  // unanswered: one covers a tracker restart; the cap stops a tracker that
  // accepts and drops every connection from looping a call until its deadline.
  static constexpr int kMaxResends = 2;

  TrackerClient(zmq::context_t& ctx, std::string endpoint, std::chrono::milliseconds timeout);

  const std::string& endpoint() const { return endpoint_; }

  // Whether the last call ended in kTimeout on a connection that was up
  // when it gave up: the tracker is there and busy, not absent. Always false
  // on inproc (no connection events) and after a call that did not time out.
  bool busy() const { return busy_; }

  // Sends `command` with `request` as body and decodes the OK reply into
  // `reply`.
  template <class Request, class Reply>
  Status call(proto::Command command, const Request& request, Reply* reply) {
    codec::Envelope env;
    if (Status s = round_trip(command, codec::encode(request), &env); !s.ok()) return s;
    if (Status s = codec::decode(env.body, reply); !s.ok())
      return {ErrorCode::kBadRequest,
              std::string("unreadable ") + proto::command_name(command) + " reply from the tracker: " + s.message()};
    return Status::Ok();
  }

 private:
  // Sends the request and receives the matching reply; OK only for kOk replies.
  Status round_trip(proto::Command command, zmq::message_t body, codec::Envelope* reply);
  Status ensure_connected();
  // Closes the socket (dropping whatever it queued) and its watch.
  void disconnect();
  // Until the socket has a message (OK), its connection closes (kUnavailable:
  // the request sent on it is lost) or `deadline` passes (kTimeout). A
  // refused connect is waited through: libzmq tries again.
  Status wait_for_reply(std::chrono::steady_clock::time_point deadline);

  zmq::context_t& ctx_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::optional<zmq::socket_t> socket_;  // empty until the first call and after a timeout
  DisconnectWatch watch_;                // of socket_ (tcp:// only); after it, so destroyed first
  std::uint64_t next_seq_ = 1;
  bool busy_ = false;  // busy()
};

}  // namespace p2p
