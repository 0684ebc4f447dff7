// PutPipeline: the windowed PUT_CHUNK stream of `put` and its COMMIT.
//
// Chunks go to the first placed peer with forward = the other placed peers'
// endpoints (the peers chain them on). Up to `window` chunks are in flight;
// replies are matched by seq. The first ERROR reply fails the stream with
// that peer's Status (no_space, forward_failed, bad_chunk ...), prefixed by
// which peer answered; no reply within the timeout is kTimeout naming the
// peer, and a tcp:// connection to it closing or refused while replies are
// awaited is kUnavailable at once (the peer exited or was killed).
// Memory: window x chunk size (the in-flight chunks live in ZeroMQ).
//
// The DEALER to the first peer comes from a ConnectionSource when one is
// given (the session's pool: a put of a small file then costs no TCP and
// ZMTP handshake, ~0.6 ms here) and goes back to it at destruction, reusable
// only when no request is left unanswered; otherwise the pipeline opens its
// own and closes it.
//
// Ownership: owns its DEALER, or borrows one from `connections`; the context
// and `connections` must outlive it.
// Thread affinity: one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "common/chunk_fetcher.h"
#include "common/chunk_reader.h"
#include "common/codec.h"
#include "common/manifest.h"
#include "common/protocol.h"
#include "common/sockets.h"
#include "common/status.h"

namespace p2p::client {

class PutPipeline {
 public:
  // Chunks in flight: deep enough to keep a loopback chain busy (zguide ch.7
  // needed 3-5 to hide a round trip; the chain adds a hop per replica).
  static constexpr std::size_t kWindow = 8;

  // REQUIRES: !peers.empty(). `timeout` is for one hop; the chain gets one
  // per peer, since each hop may wait its own forward timeout for the next.
  PutPipeline(zmq::context_t& ctx, std::vector<proto::HolderInfo> peers, std::chrono::milliseconds timeout,
              ConnectionSource* connections = nullptr);
  ~PutPipeline();
  PutPipeline(const PutPipeline&) = delete;
  PutPipeline& operator=(const PutPipeline&) = delete;

  // Sends one chunk, first waiting for a free slot in the window.
  Status put(Chunk chunk);
  // Waits until every chunk sent so far is acknowledged.
  Status drain();
  // COMMIT of `manifest` along the chain; the reply names the peers that committed.
  Result<proto::CommitReply> commit(const Manifest& manifest);

  // Bytes acknowledged by the chain so far (for progress).
  std::uint64_t acked_bytes() const { return acked_bytes_; }

  // The peer id the last error is blamed on, for a retry to place around it:
  // the first peer when it failed, timed out or went away; for forward_failed
  // the later peer at the error's failed_endpoint (docs/protocol.md 5.4).
  // Empty when no one peer is to blame: a busy peer (`unavailable` in an
  // ERROR reply) may be free by the retry, a local failure is nobody's, and
  // an endpoint outside the chain names no peer of it.
  const std::string& failed_peer() const { return failed_peer_; }

 private:
  Status connect();
  // Receives replies until at most `max_in_flight` requests are outstanding.
  Status wait_until(std::size_t max_in_flight);
  // The next well-formed reply; kTimeout naming the peer at `deadline`;
  // kUnavailable as soon as the connection to a tcp:// peer closes or is refused.
  Status receive(Clock::time_point deadline, codec::Envelope* env);
  // OK once a reply waits; kTimeout at `deadline`; kUnavailable when the
  // watch reports the connection gone.
  Status wait_for_reply(Clock::time_point deadline);
  Clock::time_point next_deadline() const;
  // `s`, prefixed by the first peer's id and endpoint; blames the first peer
  // unless `blame_first` is false.
  Status peer_error(Status s, bool blame_first = true);
  // An ERROR reply of the chain, blamed as failed_peer() says.
  Status error_reply(const codec::Envelope& env);
  Status timed_out();

  zmq::context_t& ctx_;
  std::vector<proto::HolderInfo> peers_;
  std::vector<std::string> forward_;  // endpoints of peers_[1..]
  std::chrono::milliseconds timeout_;
  ConnectionSource* connections_;           // null: conn_ is owned_
  std::optional<HolderConnection> owned_;
  HolderConnection* conn_ = nullptr;        // to peers_.front(); null until connect()
  std::unordered_map<std::uint64_t, std::uint64_t> in_flight_;  // seq -> chunk bytes
  bool unanswered_ = false;                 // a COMMIT or an error left a request without its reply
  std::uint64_t acked_bytes_ = 0;
  std::string failed_peer_;                 // see failed_peer()
};

}  // namespace p2p::client
