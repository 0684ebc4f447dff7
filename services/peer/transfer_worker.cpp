#include "services/peer/transfer_worker.h"

#include "common/limits.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/sockets.h"
#include "services/peer/committed_event.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

namespace {

// Requests taken from the proxy per loop round, so that next peers' answers
// are not left waiting behind a burst of new requests.
constexpr int kRequestBatch = 16;

// A pipeline's remaining endpoints must be other peers' TCP endpoints: never
// inproc/ipc addresses of this process or host.
Status check_forward(const std::vector<std::string>& forward) {
  if (forward.size() >= limits::kMaxReplicas)
    return {ErrorCode::kBadRequest, "forward list of " + std::to_string(forward.size()) + " peers is too long"};
  for (const auto& ep : forward)
    if (ep.rfind("tcp://", 0) != 0 || ep.size() <= 6)
      return {ErrorCode::kBadRequest, "forward endpoint '" + ep + "' is not tcp://host:port"};
  return Status::Ok();
}

Status no_data_expected(const codec::Envelope& request) {
  if (request.has_data) return {ErrorCode::kBadRequest, "unexpected data frame"};
  return Status::Ok();
}

std::vector<std::string> rest_of(const std::vector<std::string>& forward) {
  return forward.empty() ? std::vector<std::string>{} : std::vector<std::string>(forward.begin() + 1, forward.end());
}

}  // namespace

TransferWorker::TransferWorker(zmq::context_t& ctx, ChunkStore& store, WorkerConfig config)
    : ctx_(ctx), store_(store), config_(std::move(config)), next_(ctx_, config_.forward_timeout) {
  socket_ = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxDataPlaneMessage);
  socket_.connect(config_.backend_endpoint);
  if (!config_.committed_endpoint.empty()) {
    committed_ = make_socket(ctx_, zmq::socket_type::push, kMaxCommittedEvent);
    committed_.connect(config_.committed_endpoint);
  }
}

void TransferWorker::run(const std::atomic<bool>& stop) {
  std::vector<NextPeers::Answer> answers;
  std::vector<zmq::pollitem_t> items;
  while (!stop) {
    try {
      items.assign({{socket_.handle(), 0, ZMQ_POLLIN, 0}});
      next_.add_poll_items(items);
      zmq::poll(items, std::min(until(next_.next_deadline()), kStopCheckInterval));
      answers.clear();
      next_.collect(items, 1, Clock::now(), answers);
      for (NextPeers::Answer& a : answers) finish(a);
      if (items[0].revents & ZMQ_POLLIN) receive_requests();
    } catch (const std::exception& e) {
      P2P_ERROR("transfer worker: %s", e.what());
    }
  }
  for (auto& [seq, step] : steps_) store_.discard(step.staged);
  steps_.clear();
}

void TransferWorker::receive_requests() {
  for (int i = 0; i < kRequestBatch; ++i) {
    codec::Envelope request;
    Status s = codec::recv_envelope(socket_, codec::Layout::kRouter, &request);
    if (s.code() == ErrorCode::kTimeout) return;
    if (!s.ok()) {
      P2P_INFO("transfer: rejected request: %s", s.to_string().c_str());
      if (codec::reply_possible(request, codec::Layout::kRouter))
        (void)codec::send_error(socket_, codec::Layout::kRouter, request, s);
      continue;
    }
    serve(request);
  }
}

void TransferWorker::serve(codec::Envelope& request) {
  Outcome outcome = [&]() -> Outcome {
    try {
      return dispatch(request);
    } catch (const std::exception& e) {
      return Status{ErrorCode::kInternal, e.what()};
    }
  }();
  if (!outcome.ok()) return send_reply(request, outcome.status());
  if (outcome->has_value()) send_reply(request, std::move(*outcome.value()));
  // else: a Step waits on the next peer and is answered by finish().
}

void TransferWorker::send_reply(const codec::Envelope& request, Result<Reply> reply) {
  const char* name = proto::command_name(request.cmd());
  Status sent;
  if (reply.ok()) {
    P2P_DEBUG("transfer: %s seq %llu ok", name, static_cast<unsigned long long>(request.seq));
    sent = codec::send_envelope(socket_, codec::Layout::kRouter, &request.routing, proto::Command::kOk, request.seq,
                                std::move(reply->body), reply->has_data ? &reply->data : nullptr);
  } else {
    if (reply.status().code() == ErrorCode::kNotFound)
      P2P_DEBUG("transfer: %s: %s", name, reply.status().to_string().c_str());
    else
      P2P_INFO("transfer: %s failed: %s", name, reply.status().to_string().c_str());
    sent = codec::send_error(socket_, codec::Layout::kRouter, request, reply.status());
  }
  if (!sent.ok()) P2P_WARN("transfer: reply to %s not sent: %s", name, sent.to_string().c_str());
}

TransferWorker::Outcome TransferWorker::dispatch(codec::Envelope& request) {
  auto now = [](Result<Reply> r) -> Outcome {
    if (!r.ok()) return r.status();
    return std::optional<Reply>(std::move(r).value());
  };
  switch (request.cmd()) {
    case proto::Command::kGetChunk: return now(get_chunk(request));
    case proto::Command::kPutChunk: return put_chunk(request);
    case proto::Command::kCommit: return commit(request);
    case proto::Command::kGetManifest: return now(get_manifest(request));
    case proto::Command::kCheckChunk: return now(check_chunk(request));
    case proto::Command::kPing: {
      if (Status s = no_data_expected(request); !s.ok()) return s;
      proto::Empty empty;
      if (Status s = codec::decode(request.body, &empty); !s.ok()) return s;
      return now(Reply{codec::encode(proto::Empty{}), {}, false});
    }
    default:
      return Status{ErrorCode::kUnknownCommand,
                    "command " + std::to_string(request.command) + " is not served by a peer's transfer service"};
  }
}

Result<TransferWorker::Reply> TransferWorker::get_chunk(const codec::Envelope& request) {
  if (Status s = no_data_expected(request); !s.ok()) return s;
  proto::ChunkRef ref;
  if (Status s = codec::decode(request.body, &ref); !s.ok()) return s;
  Result<zmq::message_t> bytes = store_.read_chunk(ref.hash);
  if (!bytes.ok()) return bytes.status();
  return Reply{codec::encode(ref), std::move(bytes).value(), true};
}

Status TransferWorker::room_for_step() const {
  if (steps_.size() < kMaxWorkerSteps) return Status::Ok();
  return {ErrorCode::kUnavailable,
          "peer is busy: " + std::to_string(kMaxWorkerSteps) + " pipeline steps wait on next peers"};
}

TransferWorker::Outcome TransferWorker::put_chunk(codec::Envelope& request) {
  if (!request.has_data) return Status{ErrorCode::kBadRequest, "PUT_CHUNK without a data frame"};
  proto::PutChunkRequest req;
  if (Status s = codec::decode(request.body, &req); !s.ok()) return s;
  if (Status s = check_forward(req.forward); !s.ok()) return s;
  const std::size_t size = request.data.size();
  if (size > limits::kMaxChunkSize)
    return Status{ErrorCode::kBadRequest, "chunk of " + std::to_string(size) + " bytes exceeds the maximum"};
  if (!store_.has_chunk(req.hash) && store_.free_bytes() < size)
    return Status{ErrorCode::kNoSpace, "no room for " + std::to_string(size) + " more bytes"};

  if (req.forward.empty()) {
    // The tail of the pipeline (or a lone peer) verifies what it stores.
    if (sha256(request.data.data(), size) != req.hash)
      return Status{ErrorCode::kBadChunk, "chunk bytes do not match " + req.hash.hex()};
    if (Status s = store_.put_chunk(req.hash, request.data.data(), size, ChunkStore::Verify::kAlreadyVerified);
        !s.ok())
      return s;
    return std::optional<Reply>(Reply{codec::encode(proto::Empty{}), {}, false});
  }

  // An intermediate peer does not hash (HDFS's write pipeline has only its
  // last DataNode verify): it forwards the very buffer it stores (the message
  // copy shares it), so the tail's OK proves these bytes match the hash, and
  // corruption on any hop before it reaches the tail too. Hashing at every
  // hop made a put of k copies hash the file k + 1 times. The chunk waits in
  // tmp/ until the verdict; forwarding first lets the next peer write while
  // this one does.
  if (Status s = room_for_step(); !s.ok()) return s;
  zmq::message_t copy;
  copy.copy(request.data);
  proto::PutChunkRequest onward{req.hash, rest_of(req.forward)};
  zmq::message_t body = codec::encode(onward);
  Result<std::uint64_t> seq =
      next_.send(req.forward[0], proto::Command::kPutChunk, std::move(body), &copy, std::move(onward.forward));
  if (!seq.ok()) return seq.status();
  // On a failure here the next peer's answer finds no Step and is dropped.
  Result<ChunkStore::StagedChunk> staged = store_.stage_chunk(req.hash, request.data.data(), size);
  if (!staged.ok()) return staged.status();
  request.body = zmq::message_t{};
  request.data = zmq::message_t{};  // the Step keeps no bytes: its copy is in tmp/
  steps_.emplace(seq.value(), Step{std::move(request), std::move(staged).value(), {}});
  return std::optional<Reply>{};
}

TransferWorker::Outcome TransferWorker::commit(codec::Envelope& request) {
  if (Status s = no_data_expected(request); !s.ok()) return s;
  proto::CommitRequest req;
  if (Status s = codec::decode(request.body, &req); !s.ok()) return s;
  if (Status s = req.manifest.validate(); !s.ok()) return s;
  if (Status s = check_forward(req.forward); !s.ok()) return s;
  std::vector<Hash> missing = store_.missing_chunks(req.manifest);
  if (!missing.empty())
    return Status{ErrorCode::kMissingChunks, std::to_string(missing.size()) + " chunks of " + req.manifest.name +
                                                 " are not here (first " + missing.front().hex() + ")"};
  const Hash file_id = req.manifest.file_id();

  std::optional<std::uint64_t> forwarded;
  if (!req.forward.empty()) {
    if (Status s = room_for_step(); !s.ok()) return s;
    std::vector<std::string> after = rest_of(req.forward);
    zmq::message_t body = codec::encode(proto::CommitRequest{req.manifest, after});
    Result<std::uint64_t> seq =
        next_.send(req.forward[0], proto::Command::kCommit, std::move(body), nullptr, std::move(after));
    if (!seq.ok()) return seq.status();
    forwarded = seq.value();
  }
  // This peer holds the file whatever happens downstream: keep and announce it.
  if (Status s = store_.put_manifest(req.manifest); !s.ok()) return s;
  notify_committed(file_id);
  P2P_INFO("transfer: committed %s (%s)", req.manifest.name.c_str(), file_id.hex().c_str());
  if (!forwarded) {
    proto::CommitReply reply{file_id, {config_.peer_id}};
    return std::optional<Reply>(Reply{codec::encode(reply), {}, false});
  }
  request.body = zmq::message_t{};
  steps_.emplace(*forwarded, Step{std::move(request), {}, file_id, req.forward.size()});
  return std::optional<Reply>{};
}

Result<TransferWorker::Reply> TransferWorker::get_manifest(const codec::Envelope& request) {
  if (Status s = no_data_expected(request); !s.ok()) return s;
  proto::FileRef ref;
  if (Status s = codec::decode(request.body, &ref); !s.ok()) return s;
  Result<Manifest> m = store_.manifest(ref.file_id);
  if (!m.ok()) return m.status();
  return Reply{codec::encode(proto::ManifestReply{std::move(m).value()}), {}, false};
}

Result<TransferWorker::Reply> TransferWorker::check_chunk(const codec::Envelope& request) {
  if (Status s = no_data_expected(request); !s.ok()) return s;
  proto::ChunkRef ref;
  if (Status s = codec::decode(request.body, &ref); !s.ok()) return s;
  if (!store_.has_chunk(ref.hash)) return Status{ErrorCode::kNotFound, "no chunk " + ref.hash.hex()};
  // The reporter's word is not taken: the check re-reads the chunk from disk
  // and drops it only if those bytes are wrong.
  const bool queued = config_.check_chunk && config_.check_chunk(ref.hash);
  // Debug only: anyone may send these, and the check's outcome is logged
  // once per check, at the scrub's pace.
  P2P_DEBUG("transfer: chunk %s reported sent with wrong bytes; %s", ref.hash.hex().c_str(),
            queued ? "checking it from disk" : "no check now (scrub off or busy); the next pass reads it");
  return Reply{codec::encode(proto::Empty{}), {}, false};
}

void TransferWorker::finish(NextPeers::Answer& answer) {
  auto it = steps_.find(answer.seq);
  if (it == steps_.end()) return;  // its request failed here after it was forwarded
  Step step = std::move(it->second);
  steps_.erase(it);
  Result<Reply> reply = [&]() -> Result<Reply> {
    try {
      return step.request.cmd() == proto::Command::kPutChunk ? finish_put_chunk(step, answer.reply)
                                                             : finish_commit(step, answer);
    } catch (const std::exception& e) {
      store_.discard(step.staged);
      return Status{ErrorCode::kInternal, e.what()};
    }
  }();
  send_reply(step.request, std::move(reply));
}

Result<TransferWorker::Reply> TransferWorker::finish_put_chunk(Step& step, Result<codec::Envelope>& answer) {
  if (answer.ok()) {
    if (Status s = store_.keep(step.staged); !s.ok()) return s;
    return Reply{codec::encode(proto::Empty{}), {}, false};
  }
  // No verdict from the tail: judge the bytes here before keeping them (a
  // chunk this peer already held was verified when it came, and costs no
  // hash: nothing new is kept). Then the downstream failure is the answer.
  if (Status s = store_.keep_if_intact(step.staged); !s.ok()) return s;
  return answer.status();
}

Result<TransferWorker::Reply> TransferWorker::finish_commit(Step& step, NextPeers::Answer& answer) {
  if (!answer.reply.ok()) return answer.reply.status();
  // The next peer answers for itself and every peer after it, no more.
  proto::CommitReply theirs;
  if (Status s = codec::decode(answer.reply->body, &theirs);
      !s.ok() || theirs.file_id != step.file_id || theirs.peer_ids.size() != step.peers_after)
    return forward_failure(answer.endpoint, "bad COMMIT reply");
  proto::CommitReply reply{step.file_id, {config_.peer_id}};
  reply.peer_ids.insert(reply.peer_ids.end(), theirs.peer_ids.begin(), theirs.peer_ids.end());
  return Reply{codec::encode(reply), {}, false};
}

void TransferWorker::notify_committed(const Hash& file_id) {
  if (config_.committed_endpoint.empty()) return;
  try {
    if (!send_committed(committed_, file_id))
      P2P_WARN("transfer: storage service busy; %s is announced on the next join", file_id.hex().c_str());
  } catch (const zmq::error_t& e) {
    P2P_WARN("transfer: commit event: %s", e.what());
  }
}

}  // namespace p2p::peer
