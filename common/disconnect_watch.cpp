#include "common/disconnect_watch.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/sockets.h"

namespace p2p {

namespace {

// Monitor endpoints are per context; a process-wide counter keeps them unique.
std::string next_monitor_endpoint() {
  static std::atomic<std::uint64_t> counter{0};
  return "inproc://p2p-disconnect-watch-" + std::to_string(counter.fetch_add(1));
}

}  // namespace

DisconnectWatch::DisconnectWatch(zmq::context_t& ctx, zmq::socket_t& socket) {
  socket.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(kWatchedReconnectMax.count()));
  const std::string endpoint = next_monitor_endpoint();
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                         ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
    throw zmq::error_t();
  watched_ = socket.handle();
  try {
    zmq::socket_t events(ctx, zmq::socket_type::pair);
    events.set(zmq::sockopt::linger, 0);
    events.connect(endpoint);
    events_ = std::move(events);
  } catch (...) {
    stop();
    throw;
  }
}

DisconnectWatch::~DisconnectWatch() { stop(); }

DisconnectWatch::DisconnectWatch(DisconnectWatch&& other) noexcept
    : watched_(std::exchange(other.watched_, nullptr)),
      events_(std::move(other.events_)),
      up_(std::exchange(other.up_, false)) {}

DisconnectWatch& DisconnectWatch::operator=(DisconnectWatch&& other) noexcept {
  if (this != &other) {
    stop();
    watched_ = std::exchange(other.watched_, nullptr);
    events_ = std::move(other.events_);
    up_ = std::exchange(other.up_, false);
  }
  return *this;
}

// The monitor first: once zmq_socket_monitor(NULL) returns, libzmq sends no
// more events, so closing the reader cannot leave its I/O thread blocked.
void DisconnectWatch::stop() {
  if (watched_ != nullptr) (void)zmq_socket_monitor(watched_, nullptr, 0);
  watched_ = nullptr;
  events_.close();
  up_ = false;
}

DisconnectWatch connect_watched(zmq::context_t& ctx, zmq::socket_t& socket, const std::string& endpoint) {
  DisconnectWatch watch;
  if (endpoint.starts_with("tcp://")) watch = DisconnectWatch(ctx, socket);
  socket.connect(endpoint);
  return watch;
}

DisconnectWatch::Events DisconnectWatch::events() {
  Events seen;
  if (!events_) return seen;
  while (true) {
    // An event is two frames: [u16 event, u32 value] and the endpoint.
    zmq::message_t head;
    try {
      if (!events_.recv(head, zmq::recv_flags::dontwait)) return seen;
      zmq::message_t address;  // a multipart message arrives whole: its second frame is there
      if (head.more()) (void)events_.recv(address, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      return seen;
    }
    std::uint16_t event = 0;
    if (head.size() >= sizeof event) std::memcpy(&event, head.data(), sizeof event);  // host order, as libzmq writes it
    // In order: a close after a handshake leaves the connection down, a
    // reconnect's handshake after a close brings it up again.
    if (event == ZMQ_EVENT_DISCONNECTED) {
      seen.closed = true;
      up_ = false;
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      up_ = true;
    } else {
      seen.refused = true;  // the only other event asked for: CONNECT_RETRIED
    }
  }
}

DisconnectWatch::Wait DisconnectWatch::wait_readable(Clock::time_point deadline, bool refused_too) {
  if (!events_) return Wait::kReadable;
  while (true) {
    std::vector<zmq::pollitem_t> items{{watched_, 0, ZMQ_POLLIN, 0}, {events_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, until(deadline));
    if (items[0].revents & ZMQ_POLLIN) return Wait::kReadable;
    if (items[1].revents & ZMQ_POLLIN) {
      const Events e = events();
      if (e.closed || (refused_too && e.refused)) return Wait::kLost;
    }
    if (Clock::now() >= deadline) return Wait::kDeadline;
  }
}

}  // namespace p2p
