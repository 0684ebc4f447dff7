#include "client/connection_pool.h"

namespace p2p::client {

ConnectionPool::ConnectionPool(zmq::context_t& ctx, std::size_t max_connections)
    : ctx_(ctx), max_connections_(max_connections == 0 ? 1 : max_connections) {}

Result<HolderConnection*> ConnectionPool::acquire(const std::string& endpoint) {
  if (auto it = connections_.find(endpoint); it != connections_.end()) {
    if (!it->second.conn.watch.disconnected()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return &it->second.conn;
    }
    // It closed or failed while idle: a fresh connection fails fast if the
    // holder is gone, where this one would queue requests for a reconnect.
    lru_.erase(it->second.lru);
    connections_.erase(it);
  }
  try {
    HolderConnection conn = HolderConnection::open(ctx_, endpoint);
    while (connections_.size() >= max_connections_) {
      connections_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(endpoint);
    auto [it, inserted] = connections_.emplace(endpoint, Entry{std::move(conn), lru_.begin()});
    ++opened_;
    return &it->second.conn;
  } catch (const zmq::error_t& e) {
    return Status{ErrorCode::kBadRequest, std::string("cannot connect to ") + endpoint + ": " + e.what()};
  }
}

void ConnectionPool::release(const std::string& endpoint, bool reusable) {
  if (reusable) return;
  auto it = connections_.find(endpoint);
  if (it == connections_.end()) return;
  lru_.erase(it->second.lru);
  connections_.erase(it);
}

}  // namespace p2p::client
