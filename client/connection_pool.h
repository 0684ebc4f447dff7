// ConnectionPool: the DEALERs a client keeps to holders' endpoints across
// gets, so a get of a small file costs round trips, not handshakes.
//
// acquire() returns the open connection to an endpoint or opens one;
// release(endpoint, false) closes it (a timeout or protocol error: Lazy
// Pirate, zguide ch.4 -- a fresh socket never delivers the unanswered
// request later). Seqs count per connection (HolderConnection::next_seq), so
// a late reply on a reused connection never matches a current request.
// A tcp:// connection that closed or failed to reconnect while idle (its
// DisconnectWatch says so) is replaced at acquire(): the fresh one fails fast
// if the holder is gone, where the old one would queue requests for ever.
// At most `max_connections` stay open; opening one more closes the least
// recently used.
//
// Ownership: owns every socket; the context must outlive the pool.
// Thread affinity: one thread (the sockets' owner) for the whole lifetime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include <zmq.hpp>

#include "common/chunk_fetcher.h"

namespace p2p::client {

class ConnectionPool final : public ConnectionSource {
 public:
  // Open connections kept: a cluster's worth of peers; each costs a socket
  // and libzmq's buffers, so a client that meets thousands does not keep all.
  static constexpr std::size_t kDefaultMaxConnections = 64;

  explicit ConnectionPool(zmq::context_t& ctx, std::size_t max_connections = kDefaultMaxConnections);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  Result<HolderConnection*> acquire(const std::string& endpoint) override;
  void release(const std::string& endpoint, bool reusable) override;

  std::size_t open_connections() const { return connections_.size(); }
  // Connections opened so far (reuse shows as a count that stops growing).
  std::uint64_t opened() const { return opened_; }

 private:
  struct Entry {
    HolderConnection conn;
    std::list<std::string>::iterator lru;  // position in lru_
  };

  zmq::context_t& ctx_;
  std::size_t max_connections_;
  std::unordered_map<std::string, Entry> connections_;
  std::list<std::string> lru_;  // most recently used first
  std::uint64_t opened_ = 0;
};

}  // namespace p2p::client
