#include "common/tracker_client.h"

#include <vector>

#include "common/limits.h"
#include "common/sockets.h"

namespace p2p {

TrackerClient::TrackerClient(zmq::context_t& ctx, std::string endpoint, std::chrono::milliseconds timeout)
    : ctx_(ctx), endpoint_(std::move(endpoint)), timeout_(timeout) {}

Status TrackerClient::ensure_connected() {
  if (socket_) return Status::Ok();
  try {
    zmq::socket_t s = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxControlMessage);
    watch_ = connect_watched(ctx_, s, endpoint_);
    socket_ = std::move(s);  // the same libzmq socket: the watch still names it
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    disconnect();
    return {ErrorCode::kBadRequest, "cannot connect to the tracker at '" + endpoint_ + "': " + e.what()};
  }
}

void TrackerClient::disconnect() {
  watch_ = DisconnectWatch();  // the monitor stops while its socket is still open
  socket_.reset();
}

Status TrackerClient::round_trip(proto::Command command, zmq::message_t body, codec::Envelope* reply) {
  const auto deadline = Clock::now() + timeout_;
  const std::uint64_t seq = next_seq_++;
  busy_ = false;
  auto timed_out = [&]() -> Status {
    (void)watch_.events();  // a handshake or close not read by the last poll
    busy_ = watch_.up();
    disconnect();  // drop the queued request; the next call reconnects
    const std::string within = " within " + std::to_string(timeout_.count()) + " ms";
    if (busy_)
      return {ErrorCode::kTimeout,
              "the tracker at " + endpoint_ + " is connected but sent no reply" + within + " (busy?)"};
    return {ErrorCode::kTimeout, "no reply from the tracker at " + endpoint_ + within + " (is it running?)"};
  };
  // Sends the request on the current socket, connecting one first. A
  // connected DEALER queues it even before the TCP connection is up, so
  // dontwait only fails when the queue is full.
  auto send = [&]() -> Status {
    if (Status s = ensure_connected(); !s.ok()) return s;
    (void)watch_.events();  // earlier connections' news: only a close after this send loses it
    zmq::message_t copy;
    copy.copy(body);
    if (!codec::send_envelope(*socket_, codec::Layout::kDealer, nullptr, command, seq, std::move(copy), nullptr,
                              zmq::send_flags::dontwait)
             .ok())
      return timed_out();
    return Status::Ok();
  };
  if (Status s = send(); !s.ok()) return s;

  for (int resends = 0;; ++resends) {
    Status waited = wait_for_reply(deadline);
    if (waited.code() == ErrorCode::kTimeout) return timed_out();
    if (waited.ok() || resends == kMaxResends) break;  // out of resends: the deadline ends it
    // The connection the request went out on closed: it is lost. A new
    // socket sends it again; its connect is retried until the deadline.
    disconnect();
    if (Status s = send(); !s.ok()) return s;
  }
  try {
    while (true) {
      Status s = codec::recv_envelope_until(*socket_, codec::Layout::kDealer, deadline, reply);
      if (s.code() == ErrorCode::kTimeout) return timed_out();
      if (!s.ok())
        return {ErrorCode::kBadRequest, std::string("malformed reply from the tracker: ") + s.message()};
      if (reply->seq != seq) continue;  // a late reply to an earlier request
      if (reply->cmd() == proto::Command::kError) return codec::error_from(*reply);
      if (reply->cmd() != proto::Command::kOk)
        return {ErrorCode::kBadRequest, std::string("unexpected ") + proto::command_name(reply->cmd()) +
                                            " reply from the tracker"};
      return Status::Ok();
    }
  } catch (const zmq::error_t& e) {
    disconnect();
    return {ErrorCode::kInternal, std::string("tracker socket: ") + e.what()};
  }
}

Status TrackerClient::wait_for_reply(Clock::time_point deadline) {
  try {
    switch (watch_.wait_readable(deadline, /*refused_too=*/false)) {
      case DisconnectWatch::Wait::kReadable: return Status::Ok();
      case DisconnectWatch::Wait::kLost:
        return {ErrorCode::kUnavailable, "the connection to the tracker closed with the request unanswered"};
      case DisconnectWatch::Wait::kDeadline: return {ErrorCode::kTimeout, "no reply before the deadline"};
    }
  } catch (const zmq::error_t& e) {
    return {ErrorCode::kInternal, std::string("poll: ") + e.what()};
  }
  return {ErrorCode::kInternal, "unknown wait outcome"};
}

}  // namespace p2p
