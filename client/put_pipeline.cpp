#include "client/put_pipeline.h"

#include "common/limits.h"

namespace p2p::client {

PutPipeline::PutPipeline(zmq::context_t& ctx, std::vector<proto::HolderInfo> peers, std::chrono::milliseconds timeout,
                         ConnectionSource* connections)
    : ctx_(ctx), peers_(std::move(peers)), timeout_(timeout), connections_(connections) {
  for (std::size_t i = 1; i < peers_.size(); ++i) forward_.push_back(peers_[i].endpoint);
}

PutPipeline::~PutPipeline() {
  // A reply still due could arrive on the next user of the connection; seqs
  // would keep it apart, but a peer that failed to answer is suspect anyway.
  if (conn_ && connections_) connections_->release(peers_.front().endpoint, in_flight_.empty() && !unanswered_);
}

Status PutPipeline::connect() {
  if (conn_) return Status::Ok();
  if (connections_) {
    Result<HolderConnection*> c = connections_->acquire(peers_.front().endpoint);
    if (!c.ok()) return peer_error(c.status());
    conn_ = c.value();
    return Status::Ok();
  }
  try {
    // Replies to a put are small bodies, never chunks: the control limit holds them.
    zmq::socket_t s = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxControlMessage);
    DisconnectWatch watch = connect_watched(ctx_, s, peers_.front().endpoint);
    owned_.emplace(HolderConnection{std::move(s), 1, std::move(watch)});
    conn_ = &*owned_;
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return peer_error({ErrorCode::kBadRequest, std::string("cannot connect: ") + e.what()});
  }
}

Status PutPipeline::peer_error(Status s, bool blame_first) {
  const proto::HolderInfo& first = peers_.front();
  failed_peer_ = blame_first ? first.peer_id : "";
  return {s.code(), "peer " + first.peer_id + " at " + first.endpoint + ": " + s.message()};
}

Status PutPipeline::error_reply(const codec::Envelope& env) {
  Status s = codec::error_from(env);
  if (s.code() == ErrorCode::kUnavailable) return peer_error(s, false);  // busy, not broken
  Status wrapped = peer_error(s);
  if (s.code() != ErrorCode::kForwardFailed) return wrapped;
  failed_peer_.clear();
  for (std::size_t i = 1; i < peers_.size(); ++i)
    if (peers_[i].endpoint == s.failed_endpoint()) failed_peer_ = peers_[i].peer_id;
  return wrapped;
}

Status PutPipeline::timed_out() {
  const proto::HolderInfo& first = peers_.front();
  failed_peer_ = first.peer_id;
  return {ErrorCode::kTimeout, "peer " + first.peer_id + " at " + first.endpoint + " did not answer within " +
                                   std::to_string(timeout_.count() * peers_.size()) + " ms"};
}

Status PutPipeline::put(Chunk chunk) {
  if (Status s = connect(); !s.ok()) return s;
  if (Status s = wait_until(kWindow - 1); !s.ok()) return s;
  const std::uint64_t seq = conn_->next_seq++;
  const std::uint64_t bytes = chunk.data.size();
  // The data frame is handed to ZeroMQ as is: no copy of the chunk.
  Status s = codec::send_envelope(conn_->socket, codec::Layout::kDealer, nullptr, proto::Command::kPutChunk, seq,
                                  codec::encode(proto::PutChunkRequest{chunk.hash, forward_}), &chunk.data,
                                  zmq::send_flags::dontwait);
  if (!s.ok()) return peer_error({ErrorCode::kInternal, "cannot send chunk " + std::to_string(chunk.index)});
  in_flight_.emplace(seq, bytes);
  return Status::Ok();
}

Status PutPipeline::drain() { return wait_until(0); }

Status PutPipeline::receive(Clock::time_point deadline, codec::Envelope* env) {
  if (Status s = wait_for_reply(deadline); !s.ok()) return s;
  Status s = codec::recv_envelope_until(conn_->socket, codec::Layout::kDealer, deadline, env);
  if (s.code() == ErrorCode::kTimeout) return timed_out();
  if (!s.ok()) return peer_error({ErrorCode::kBadRequest, "malformed reply: " + s.message()});
  return Status::Ok();
}

Status PutPipeline::wait_for_reply(Clock::time_point deadline) {
  try {
    switch (conn_->watch.wait_readable(deadline, /*refused_too=*/true)) {
      case DisconnectWatch::Wait::kReadable: return Status::Ok();
      case DisconnectWatch::Wait::kLost:
        return peer_error({ErrorCode::kUnavailable, "connection closed or refused with requests unanswered"});
      case DisconnectWatch::Wait::kDeadline: return timed_out();
    }
  } catch (const zmq::error_t& e) {
    return peer_error({ErrorCode::kInternal, std::string("poll: ") + e.what()}, false);
  }
  return peer_error({ErrorCode::kInternal, "unknown wait outcome"}, false);
}

Clock::time_point PutPipeline::next_deadline() const {
  // Each hop may wait its own forward timeout for the next one, so the chain
  // gets one timeout per peer. The clock restarts on every reply.
  return Clock::now() + timeout_ * static_cast<long>(peers_.size());
}

Status PutPipeline::wait_until(std::size_t max_in_flight) {
  auto deadline = next_deadline();
  while (in_flight_.size() > max_in_flight) {
    codec::Envelope env;
    if (Status s = receive(deadline, &env); !s.ok()) return s;
    auto it = in_flight_.find(env.seq);
    if (it == in_flight_.end()) continue;  // not a reply we wait for
    if (env.cmd() == proto::Command::kError) return error_reply(env);
    if (env.cmd() != proto::Command::kOk)
      return peer_error({ErrorCode::kBadRequest, std::string("unexpected reply ") + proto::command_name(env.cmd())});
    acked_bytes_ += it->second;
    in_flight_.erase(it);
    deadline = next_deadline();
  }
  return Status::Ok();
}

Result<proto::CommitReply> PutPipeline::commit(const Manifest& manifest) {
  if (Status s = connect(); !s.ok()) return s;
  if (Status s = drain(); !s.ok()) return s;
  const std::uint64_t seq = conn_->next_seq++;
  Status sent = codec::send_envelope(conn_->socket, codec::Layout::kDealer, nullptr, proto::Command::kCommit, seq,
                                     codec::encode(proto::CommitRequest{manifest, forward_}), nullptr,
                                     zmq::send_flags::dontwait);
  if (!sent.ok()) return peer_error({ErrorCode::kInternal, "cannot send COMMIT"});
  unanswered_ = true;
  const auto deadline = next_deadline();
  while (true) {
    codec::Envelope env;
    if (Status s = receive(deadline, &env); !s.ok()) return s;
    if (env.seq != seq) continue;
    unanswered_ = false;
    if (env.cmd() == proto::Command::kError) return error_reply(env);
    proto::CommitReply reply;
    if (env.cmd() != proto::Command::kOk || !codec::decode(env.body, &reply).ok())
      return peer_error({ErrorCode::kBadRequest, "unreadable COMMIT reply"});
    return reply;
  }
}

}  // namespace p2p::client
