// TransferWorker: one data-plane worker. Answers the requests the transfer
// service's proxy hands it (GET_CHUNK, PUT_CHUNK, COMMIT, GET_MANIFEST, PING,
// CHECK_CHUNK)
// and drives its part of a write pipeline: it forwards to the next peer
// (NextPeers) and, while that peer works, serves other requests. A request
// waiting on its next peer is a Step, answered when the next peer's answer
// (or its timeout) comes.
//
// Its socket is a DEALER, not a REP: a REP must answer one request before it
// may take the next, so a REP worker waiting on its next peer was a worker
// lost to the pool, and pipelines crossing the same peers in different orders
// deadlocked until forward-timeout (next_peers.h). The only waits left in a
// worker are its own disk work.
//
// Thread affinity: constructed, run and destroyed by one worker thread (it
// owns its sockets). Every request gets exactly one reply while the worker
// runs; exceptions never leave run().
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "common/chunk_store.h"
#include "common/codec.h"
#include "services/peer/next_peers.h"

namespace p2p::peer {

// Steps one worker keeps waiting on next peers; beyond them a forwarded write
// is refused as unavailable. Each may still hold what it forwarded in a next
// peer's send queue: a chunk (1 MiB by default, 4 MiB at most) or a COMMIT's
// manifest (up to a control message), so this bounds that memory at 64 MiB a
// worker for default chunks (the windows of 8 puts of big files), 256 MiB
// for the largest, more only while COMMITs of huge manifests are in flight.
inline constexpr std::size_t kMaxWorkerSteps = 64;

struct WorkerConfig {
  std::string backend_endpoint;  // the proxy's inproc DEALER
  std::string peer_id;           // reported in CommitReply
  std::chrono::milliseconds forward_timeout{10000};
  std::string committed_endpoint;  // inproc PULL of the storage service; empty = nobody listens
  // CHECK_CHUNK of a stored chunk: queues its check from disk (the peer's
  // Scrubber::suspect). Called from worker threads, so it must be
  // thread-safe and not block. Null: reports are answered and not acted on.
  std::function<bool(const Hash&)> check_chunk;
};

class TransferWorker {
 public:
  TransferWorker(zmq::context_t& ctx, ChunkStore& store, WorkerConfig config);
  TransferWorker(const TransferWorker&) = delete;
  TransferWorker& operator=(const TransferWorker&) = delete;

  // Serves requests until `stop` is set (checked at least every
  // kStopCheckInterval). Steps still waiting then are dropped unanswered
  // (the proxy has drained or given up on them) and their staged chunks
  // deleted.
  void run(const std::atomic<bool>& stop);

 private:
  // A successful reply: the OK body and an optional data frame.
  struct Reply {
    zmq::message_t body;
    zmq::message_t data;
    bool has_data = false;
  };
  // What a handler did: replied (a Reply or an error), or left a Step
  // waiting on the next peer (nullopt).
  using Outcome = Result<std::optional<Reply>>;
  // A PUT_CHUNK or COMMIT waiting on the next peer of its pipeline.
  struct Step {
    codec::Envelope request;         // routing, seq, command; body and data released
    ChunkStore::StagedChunk staged;  // PUT_CHUNK: this peer's copy, in tmp/ until the verdict
    Hash file_id;                    // COMMIT: the file committed here
    std::size_t peers_after = 0;     // COMMIT: the peers of the pipeline after this one
  };

  void receive_requests();
  void serve(codec::Envelope& request);
  Outcome dispatch(codec::Envelope& request);
  Result<Reply> get_chunk(const codec::Envelope& request);
  Outcome put_chunk(codec::Envelope& request);
  Outcome commit(codec::Envelope& request);
  Result<Reply> get_manifest(const codec::Envelope& request);
  Result<Reply> check_chunk(const codec::Envelope& request);
  // Answers the Step of `answer.seq`, if it still waits.
  void finish(NextPeers::Answer& answer);
  Result<Reply> finish_put_chunk(Step& step, Result<codec::Envelope>& answer);
  Result<Reply> finish_commit(Step& step, NextPeers::Answer& answer);
  // kUnavailable when kMaxWorkerSteps wait already.
  Status room_for_step() const;
  void send_reply(const codec::Envelope& request, Result<Reply> reply);
  void notify_committed(const Hash& file_id);

  zmq::context_t& ctx_;
  ChunkStore& store_;
  WorkerConfig config_;
  zmq::socket_t socket_;     // DEALER on the proxy's backend
  zmq::socket_t committed_;  // PUSH to the storage service
  NextPeers next_;
  std::map<std::uint64_t, Step> steps_;  // by the seq of their request to the next peer
};

}  // namespace p2p::peer
