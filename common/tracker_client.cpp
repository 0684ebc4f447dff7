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
    s.connect(endpoint_);
    socket_ = std::move(s);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return {ErrorCode::kBadRequest, "cannot connect to the tracker at '" + endpoint_ + "': " + e.what()};
  }
}

Status TrackerClient::round_trip(proto::Command command, zmq::message_t body, codec::Envelope* reply) {
  if (Status s = ensure_connected(); !s.ok()) return s;
  const auto deadline = Clock::now() + timeout_;
  const std::uint64_t seq = next_seq_++;
  auto timed_out = [&]() -> Status {
    socket_.reset();  // drop the queued request; the next call reconnects
    return {ErrorCode::kTimeout, std::string("no reply from the tracker at ") + endpoint_ + " within " +
                                     std::to_string(timeout_.count()) + " ms (is it running?)"};
  };

  // A connected DEALER queues the request even before the TCP connection is
  // up, so dontwait only fails when the queue is full.
  Status sent = codec::send_envelope(*socket_, codec::Layout::kDealer, nullptr, command, seq, std::move(body),
                                     nullptr, zmq::send_flags::dontwait);
  if (!sent.ok()) return timed_out();

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
    socket_.reset();
    return {ErrorCode::kInternal, std::string("tracker socket: ") + e.what()};
  }
}

}  // namespace p2p
