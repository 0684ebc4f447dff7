// DisconnectWatch: tells the thread that owns a connecting socket that its
// TCP connection closed or could not be made (zmq_socket_monitor with
// ZMQ_EVENT_DISCONNECTED and ZMQ_EVENT_CONNECT_RETRIED), and whether it is up
// (ZMQ_EVENT_HANDSHAKE_SUCCEEDED: a ZeroMQ peer answered at the other end).
//
// A DEALER hides a closed connection and reconnects in the background, but
// the requests it had sent on that connection are gone with it, and those
// queued for a holder that no longer listens wait for ever: no reply can
// come. A fetch waiting on a holder that exited or was killed (the kernel
// closes its sockets at once) would otherwise learn it only at its chunk
// timeout. inproc connections report nothing, so only tcp:// holders benefit.
//
// libzmq sends monitor events from its I/O thread with blocking sends, which
// stall every socket of the context if the events are not read: so the watch
// stops the monitor before it closes its reader, and a watched socket must
// reconnect with a backoff (kWatchedReconnectMax) so that an idle connection
// to a dead holder queues a few events an hour, not ten a second.
//
// Ownership: owns one PAIR socket, connected to the monitor endpoint libzmq
// binds for the watched socket. Declare it after the watched socket, so that
// it is destroyed (and the monitor stopped) while the socket is still open.
// Thread affinity: the thread that owns the watched socket. Movable, not copyable.
#pragma once

#include <chrono>
#include <string>

#include <zmq.hpp>

namespace p2p {

// The longest wait between reconnects of a watched socket: each failed try is
// one event, and unread events must stay far below libzmq's HWM of 1000.
inline constexpr std::chrono::milliseconds kWatchedReconnectMax{10000};

class DisconnectWatch {
 public:
  DisconnectWatch() = default;  // watches nothing; handle() is null
  // Starts watching `socket` and sets its reconnect backoff; call before it
  // connects. `socket` must outlive the watch. Throws zmq::error_t.
  DisconnectWatch(zmq::context_t& ctx, zmq::socket_t& socket);
  ~DisconnectWatch();
  DisconnectWatch(DisconnectWatch&& other) noexcept;
  DisconnectWatch& operator=(DisconnectWatch&& other) noexcept;
  DisconnectWatch(const DisconnectWatch&) = delete;
  DisconnectWatch& operator=(const DisconnectWatch&) = delete;

  // For zmq::poll (ZMQ_POLLIN); null when watching nothing.
  void* handle() { return events_.handle(); }

  // What the events read by one call say happened since the last call.
  struct Events {
    bool closed = false;   // an established connection closed (ZMQ_EVENT_DISCONNECTED)
    bool refused = false;  // a connect failed; libzmq tries again (ZMQ_EVENT_CONNECT_RETRIED)
  };
  // Reads every event waiting, without blocking.
  Events events();
  // events(), reduced to: the connection closed or a connect failed.
  bool disconnected() {
    const Events e = events();
    return e.closed || e.refused;
  }
  // As of the events read so far: a connection of the watched socket has
  // completed its ZeroMQ handshake and has not closed since. The other end's
  // process is there and its I/O thread answers, so a request unanswered on
  // it waits on a busy receiver, not an absent one. False when watching
  // nothing (inproc reports nothing).
  bool up() const { return up_; }

  // How a wait for a reply on the watched socket ended.
  enum class Wait {
    kReadable,  // it has a message (one that came before a close wins); or nothing
                // is watched (inproc reports nothing: only the receive deadline tells)
    kLost,      // its connection closed, or with `refused_too` a connect failed:
                // requests sent on it will get no reply
    kDeadline,  // `deadline` passed
  };
  // Polls the watched socket and its events until one of the above. The one
  // place callers that wait for replies (TrackerClient, PutPipeline) handle
  // spurious wake-ups and events that do not end the wait. Throws zmq::error_t.
  Wait wait_readable(std::chrono::steady_clock::time_point deadline, bool refused_too);

 private:
  void stop();

  void* watched_ = nullptr;  // the watched socket's handle, not owned
  zmq::socket_t events_;
  bool up_ = false;  // up(): the last handshake came after the last close
};

// Watches `socket` when `endpoint` is tcp:// (inproc reports nothing), then
// connects it there: how a socket that waits for another peer's replies is
// connected. Throws zmq::error_t.
DisconnectWatch connect_watched(zmq::context_t& ctx, zmq::socket_t& socket, const std::string& endpoint);

}  // namespace p2p
