// ZmtpDealer: one DEALER peer that speaks ZMTP 3.0 (RFC 23, NULL mechanism)
// itself over a plain TCP socket, for load tools that must cost less than
// the server they measure.
//
// Why: p2p-bench-tracker-load with 64 libzmq DEALERs spends ~19 us of CPU per
// request in the tool (poll over 64 sockets, a mailbox eventfd per socket,
// the I/O thread hop) against the tracker's ~13 us, on the same 2 cores; the
// tool, not the tracker, set the figure (docs/performance.md). A raw socket
// per client on one epoll thread costs one write and one read per request.
// To the server it is an ordinary DEALER: its own TCP connection, greeting,
// READY with Socket-Type DEALER, and multipart messages.
//
// Only what a client of a ROUTER needs: no identity property, no heartbeats
// (ZMTP 3.1 PING), no security. Messages are at most `max_message` bytes in
// total; a bigger one, a malformed frame or a command after the handshake is
// an error (the connection is then useless).
//
// Ownership: owns its socket; movable, not copyable. Thread affinity: one
// thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace p2p::bench {

class ZmtpDealer {
 public:
  // Connects to host:port (IPv4 dotted quad; the TCP connect itself blocks,
  // which is instant on loopback, the only place this is meant for), then
  // exchanges greetings and READY within `timeout`; the socket is
  // non-blocking afterwards.
  static Result<ZmtpDealer> connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                                    std::size_t max_message);

  ZmtpDealer(ZmtpDealer&& other) noexcept;
  ZmtpDealer& operator=(ZmtpDealer&& other) noexcept;
  ZmtpDealer(const ZmtpDealer&) = delete;
  ZmtpDealer& operator=(const ZmtpDealer&) = delete;
  ~ZmtpDealer();

  int fd() const { return fd_; }

  // Sends one multipart message. A socket buffer too full to take it at once
  // is an error: with one small request in flight that never happens.
  Status send(const std::vector<std::string_view>& frames);

  // Reads what the socket holds and appends every complete message to *out
  // (one vector of frames each). kTimeout-free: returns Ok with nothing when
  // no message is complete yet; an error when the peer closed or broke ZMTP.
  Status receive(std::vector<std::vector<std::string>>* out);

 private:
  ZmtpDealer(int fd, std::size_t max_message) : fd_(fd), max_message_(max_message) {}
  // Takes the complete messages off the front of in_.
  Status parse(std::vector<std::vector<std::string>>* out);

  int fd_ = -1;
  std::size_t max_message_ = 0;
  std::string in_;   // bytes read but not yet a whole message
  std::string out_;  // reused encoding buffer
};

}  // namespace p2p::bench
