#include "common/service_link.h"

#include <algorithm>

#include "common/limits.h"
#include "common/log.h"

namespace p2p {

namespace {

// How long a closing socket may keep trying to deliver DISCONNECT. Bounded so
// a dead tracker delays shutdown by at most this much.
constexpr std::chrono::milliseconds kLeaveLinger{500};

}  // namespace

ServiceLink::ServiceLink(zmq::context_t& ctx, ServiceLinkOptions options)
    : ctx_(ctx), options_(std::move(options)) {
  connect();
}

void ServiceLink::connect() {
  try {
    socket_ = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxControlMessage);
    if (options_.send_queue > 0) socket_.set(zmq::sockopt::sndhwm, options_.send_queue);
    socket_.connect(options_.tracker_endpoint);
  } catch (const zmq::error_t& e) {
    // A bad endpoint: keep the (unconnected) socket; the next reconnect retries.
    P2P_ERROR("%s: connect %s: %s", options_.ready.service.c_str(), options_.tracker_endpoint.c_str(), e.what());
  }
  ++connections_;
  heard_since_connect_ = false;
  last_heard_ = Clock::now();
  proto::ReadyBody ready = options_.ready;
  if (options_.free_bytes) ready.free_bytes = options_.free_bytes();
  if (Status s = send(proto::Command::kReady, codec::encode(ready)); !s.ok())
    P2P_WARN("%s: READY not sent: %s", options_.ready.service.c_str(), s.to_string().c_str());
}

void ServiceLink::reconnect(const char* why) {
  // While the tracker stays down this repeats every liveness window: say it once.
  if (heard_since_connect_ || connections_ == 1)
    P2P_INFO("%s: reconnecting to tracker %s (%s)", options_.ready.service.c_str(), options_.tracker_endpoint.c_str(),
             why);
  else
    P2P_DEBUG("%s: reconnecting to tracker %s (%s)", options_.ready.service.c_str(),
              options_.tracker_endpoint.c_str(), why);
  socket_.close();
  connect();
}

Clock::time_point ServiceLink::next_deadline() const {
  return std::min(last_send_ + options_.heartbeat, last_heard_ + options_.heartbeat * options_.liveness);
}

Status ServiceLink::send(proto::Command command, zmq::message_t body) {
  if (left_) return {ErrorCode::kShuttingDown, "link has left"};
  // dontwait: with the tracker gone the queue fills up; the link must not block its thread.
  Status s = codec::send_envelope(socket_, codec::Layout::kDealer, nullptr, command, ++seq_, std::move(body), nullptr,
                                  zmq::send_flags::dontwait);
  last_send_ = Clock::now();  // a failed send means a full queue: a heartbeat would not help either
  return s;
}

LinkEvents ServiceLink::process(bool readable) {
  LinkEvents events;
  if (left_) return events;
  while (readable) {
    codec::Envelope env;
    Status s = codec::recv_envelope(socket_, codec::Layout::kDealer, &env);
    if (s.code() == ErrorCode::kTimeout) break;
    last_heard_ = Clock::now();  // any message is a heartbeat
    if (!heard_since_connect_) {
      heard_since_connect_ = true;
      events.rejoined = true;
      P2P_INFO("%s: registered with tracker %s", options_.ready.service.c_str(), options_.tracker_endpoint.c_str());
    }
    if (!s.ok()) {
      P2P_WARN("%s: bad message from tracker: %s", options_.ready.service.c_str(), s.to_string().c_str());
      continue;
    }
    if (env.cmd() == proto::Command::kDisconnect) {
      events.rejoined = false;  // the READY of the new socket is not yet heard
      reconnect("tracker sent DISCONNECT");
      break;
    }
    if (env.cmd() == proto::Command::kHeartbeat) continue;
    events.commands.push_back(std::move(env));
  }

  Clock::time_point now = Clock::now();
  if (now - last_heard_ >= options_.heartbeat * options_.liveness) {
    events.rejoined = false;
    reconnect("tracker silent");
  }
  if (now - last_send_ >= options_.heartbeat) {
    proto::HeartbeatBody hb;
    if (options_.free_bytes) hb.free_bytes = options_.free_bytes();
    if (options_.copies) hb.copies = options_.copies();
    (void)send(proto::Command::kHeartbeat, codec::encode(hb));  // a full queue is handled by the silence timeout
  }
  return events;
}

void ServiceLink::leave() {
  if (left_) return;
  Status s = send(proto::Command::kDisconnect, codec::encode(proto::Empty{}));
  if (!s.ok()) P2P_DEBUG("%s: DISCONNECT not sent: %s", options_.ready.service.c_str(), s.to_string().c_str());
  left_ = true;
  try {
    socket_.set(zmq::sockopt::linger, static_cast<int>(kLeaveLinger.count()));
    socket_.close();
  } catch (const zmq::error_t& e) {
    P2P_WARN("%s: close: %s", options_.ready.service.c_str(), e.what());
  }
}

}  // namespace p2p
