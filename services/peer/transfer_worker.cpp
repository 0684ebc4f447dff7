#include "services/peer/transfer_worker.h"

#include "common/limits.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/sockets.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

namespace {

// Downstream DEALERs a worker keeps open; beyond this it starts afresh, so a
// client naming many endpoints cannot make a worker hoard sockets.
constexpr std::size_t kMaxDownstreams = 32;
// Committed-file events are a 32-byte file id.
constexpr std::int64_t kMaxEventMessage = 64;

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
    : ctx_(ctx), store_(store), config_(std::move(config)) {
  rep_ = make_socket(ctx_, zmq::socket_type::rep, limits::kMaxDataPlaneMessage);
  rep_.connect(config_.backend_endpoint);
  if (!config_.committed_endpoint.empty()) {
    committed_ = make_socket(ctx_, zmq::socket_type::push, kMaxEventMessage);
    committed_.connect(config_.committed_endpoint);
  }
}

void TransferWorker::run(const std::atomic<bool>& stop) {
  while (!stop) {
    try {
      std::vector<zmq::pollitem_t> items{{rep_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, kStopCheckInterval);
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      codec::Envelope request;
      Status s = codec::recv_envelope(rep_, codec::Layout::kRep, &request);
      if (s.code() == ErrorCode::kTimeout) continue;
      if (!s.ok()) {
        // A REP socket must answer what it received before it can receive again.
        P2P_INFO("transfer: rejected request: %s", s.to_string().c_str());
        (void)codec::send_error(rep_, codec::Layout::kRep, request, s);
        continue;
      }
      serve(request);
    } catch (const std::exception& e) {
      P2P_ERROR("transfer worker: %s", e.what());
    }
  }
}

void TransferWorker::serve(codec::Envelope& request) {
  Result<Reply> reply = [&]() -> Result<Reply> {
    try {
      return dispatch(request);
    } catch (const std::exception& e) {
      return Status{ErrorCode::kInternal, e.what()};
    }
  }();
  const char* name = proto::command_name(request.cmd());
  Status sent;
  if (reply.ok()) {
    P2P_DEBUG("transfer: %s seq %llu ok", name, static_cast<unsigned long long>(request.seq));
    sent = codec::send_envelope(rep_, codec::Layout::kRep, nullptr, proto::Command::kOk, request.seq,
                                std::move(reply->body), reply->has_data ? &reply->data : nullptr);
  } else {
    if (reply.status().code() == ErrorCode::kNotFound)
      P2P_DEBUG("transfer: %s: %s", name, reply.status().to_string().c_str());
    else
      P2P_INFO("transfer: %s failed: %s", name, reply.status().to_string().c_str());
    sent = codec::send_error(rep_, codec::Layout::kRep, request, reply.status());
  }
  if (!sent.ok()) P2P_WARN("transfer: reply to %s not sent: %s", name, sent.to_string().c_str());
}

Result<TransferWorker::Reply> TransferWorker::dispatch(codec::Envelope& request) {
  switch (request.cmd()) {
    case proto::Command::kGetChunk: return get_chunk(request);
    case proto::Command::kPutChunk: return put_chunk(request);
    case proto::Command::kCommit: return commit(request);
    case proto::Command::kGetManifest: return get_manifest(request);
    case proto::Command::kPing: {
      if (Status s = no_data_expected(request); !s.ok()) return s;
      proto::Empty empty;
      if (Status s = codec::decode(request.body, &empty); !s.ok()) return s;
      return Reply{codec::encode(proto::Empty{}), {}, false};
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

Result<TransferWorker::Reply> TransferWorker::put_chunk(codec::Envelope& request) {
  if (!request.has_data) return Status{ErrorCode::kBadRequest, "PUT_CHUNK without a data frame"};
  proto::PutChunkRequest req;
  if (Status s = codec::decode(request.body, &req); !s.ok()) return s;
  if (Status s = check_forward(req.forward); !s.ok()) return s;
  const std::size_t size = request.data.size();
  if (size > limits::kMaxChunkSize)
    return Status{ErrorCode::kBadRequest, "chunk of " + std::to_string(size) + " bytes exceeds the maximum"};
  auto bad_chunk = [&] { return Status{ErrorCode::kBadChunk, "chunk bytes do not match " + req.hash.hex()}; };
  if (!store_.has_chunk(req.hash) && store_.free_bytes() < size)
    return Status{ErrorCode::kNoSpace, "no room for " + std::to_string(size) + " more bytes"};

  if (req.forward.empty()) {
    // The tail of the pipeline (or a lone peer) verifies what it stores.
    if (sha256(request.data.data(), size) != req.hash) return bad_chunk();
    if (Status s = store_.put_chunk(req.hash, request.data.data(), size, ChunkStore::Verify::kAlreadyVerified);
        !s.ok())
      return s;
    return Reply{codec::encode(proto::Empty{}), {}, false};
  }

  // An intermediate peer does not hash (HDFS's write pipeline has only its
  // last DataNode verify): it forwards the very buffer it stores (the message
  // copy shares it), so the tail's OK proves these bytes match the hash, and
  // corruption on any hop before it reaches the tail too. Hashing at every
  // hop made a put of k copies hash the file k + 1 times. The chunk waits in
  // tmp/ until the verdict; forwarding first lets the next peer write while
  // this one does.
  zmq::message_t copy;
  copy.copy(request.data);
  Result<std::uint64_t> seq = send_downstream(
      req.forward[0], proto::Command::kPutChunk, codec::encode(proto::PutChunkRequest{req.hash, rest_of(req.forward)}),
      &copy);
  if (!seq.ok()) return seq.status();
  Result<ChunkStore::StagedChunk> staged = store_.stage_chunk(req.hash, request.data.data(), size);
  Result<codec::Envelope> down = await_downstream(req.forward[0], seq.value());
  if (!staged.ok()) return staged.status();
  if (!down.ok()) {
    // A chunk this peer already held (and verified when it came) costs no
    // hash: nothing new is kept, and the downstream failure is the answer.
    if (!staged->written) return down.status();
    // No verdict from the tail: judge the bytes here before keeping them.
    if (sha256(request.data.data(), size) != req.hash) {
      store_.discard(staged.value());
      return bad_chunk();
    }
    if (Status s = store_.keep(staged.value()); !s.ok()) return s;
    return down.status();
  }
  if (Status s = store_.keep(staged.value()); !s.ok()) return s;
  return Reply{codec::encode(proto::Empty{}), {}, false};
}

Result<TransferWorker::Reply> TransferWorker::commit(const codec::Envelope& request) {
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
    Result<std::uint64_t> seq =
        send_downstream(req.forward[0], proto::Command::kCommit,
                        codec::encode(proto::CommitRequest{req.manifest, rest_of(req.forward)}), nullptr);
    if (!seq.ok()) return seq.status();
    forwarded = seq.value();
  }
  // This peer holds the file whatever happens downstream: keep and announce it.
  if (Status s = store_.put_manifest(req.manifest); !s.ok()) return s;
  notify_committed(file_id);
  P2P_INFO("transfer: committed %s (%s)", req.manifest.name.c_str(), file_id.hex().c_str());

  proto::CommitReply reply{file_id, {config_.peer_id}};
  if (forwarded) {
    Result<codec::Envelope> down = await_downstream(req.forward[0], *forwarded);
    if (!down.ok()) return down.status();
    proto::CommitReply theirs;
    if (Status s = codec::decode(down->body, &theirs); !s.ok() || theirs.file_id != file_id)
      return Status{ErrorCode::kForwardFailed, req.forward[0] + ": bad COMMIT reply"};
    reply.peer_ids.insert(reply.peer_ids.end(), theirs.peer_ids.begin(), theirs.peer_ids.end());
  }
  return Reply{codec::encode(reply), {}, false};
}

Result<TransferWorker::Reply> TransferWorker::get_manifest(const codec::Envelope& request) {
  if (Status s = no_data_expected(request); !s.ok()) return s;
  proto::FileRef ref;
  if (Status s = codec::decode(request.body, &ref); !s.ok()) return s;
  Result<Manifest> m = store_.manifest(ref.file_id);
  if (!m.ok()) return m.status();
  return Reply{codec::encode(proto::ManifestReply{std::move(m).value()}), {}, false};
}

Result<std::uint64_t> TransferWorker::send_downstream(const std::string& endpoint, proto::Command command,
                                                      zmq::message_t body, zmq::message_t* data) {
  auto it = downstream_.find(endpoint);
  if (it == downstream_.end()) {
    if (downstream_.size() >= kMaxDownstreams) downstream_.clear();
    try {
      zmq::socket_t s = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxDataPlaneMessage);
      s.connect(endpoint);
      it = downstream_.emplace(endpoint, std::move(s)).first;
    } catch (const zmq::error_t& e) {
      return Status{ErrorCode::kForwardFailed, endpoint + ": " + e.what()};
    }
  }
  const std::uint64_t seq = ++seq_;
  Status s = codec::send_envelope(it->second, codec::Layout::kDealer, nullptr, command, seq, std::move(body), data,
                                  zmq::send_flags::dontwait);
  if (!s.ok()) {
    downstream_.erase(it);
    return Status{ErrorCode::kForwardFailed, endpoint + ": " + s.to_string()};
  }
  return seq;
}

Result<codec::Envelope> TransferWorker::await_downstream(const std::string& endpoint, std::uint64_t seq) {
  auto it = downstream_.find(endpoint);
  if (it == downstream_.end()) return Status{ErrorCode::kInternal, "no downstream socket for " + endpoint};
  auto fail = [&](const std::string& why) -> Status {
    downstream_.erase(it);  // a late reply must not meet a later request
    return {ErrorCode::kForwardFailed, endpoint + ": " + why};
  };
  const Clock::time_point deadline = Clock::now() + config_.forward_timeout;
  for (;;) {
    std::vector<zmq::pollitem_t> items{{it->second.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, until(deadline));
    if (!(items[0].revents & ZMQ_POLLIN)) {
      if (Clock::now() >= deadline)
        return fail("no reply within " + std::to_string(config_.forward_timeout.count()) + " ms");
      continue;
    }
    codec::Envelope reply;
    Status s = codec::recv_envelope(it->second, codec::Layout::kDealer, &reply);
    if (s.code() == ErrorCode::kTimeout) continue;
    if (!s.ok()) return fail("bad reply: " + s.to_string());
    if (reply.seq != seq) continue;  // the answer to an earlier request this worker gave up on
    if (reply.cmd() == proto::Command::kError) return Status{ErrorCode::kForwardFailed, endpoint + ": " + codec::error_from(reply).to_string()};
    if (reply.cmd() != proto::Command::kOk) return fail("unexpected reply command");
    return reply;
  }
}

void TransferWorker::notify_committed(const Hash& file_id) {
  if (config_.committed_endpoint.empty()) return;
  try {
    zmq::message_t msg(file_id.bytes.data(), file_id.bytes.size());
    if (!committed_.send(msg, zmq::send_flags::dontwait))
      P2P_WARN("transfer: storage service busy; %s is announced on the next join", file_id.hex().c_str());
  } catch (const zmq::error_t& e) {
    P2P_WARN("transfer: commit event: %s", e.what());
  }
}

}  // namespace p2p::peer
