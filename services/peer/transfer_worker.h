// TransferWorker: one data-plane worker. Answers the requests the transfer
// service's proxy hands it on a REP socket (GET_CHUNK, PUT_CHUNK, COMMIT,
// GET_MANIFEST, PING) and drives its part of a write pipeline: it forwards to
// the next peer on its own DEALER per downstream endpoint.
//
// Thread affinity: constructed, run and destroyed by one worker thread (it
// owns its sockets). Every request gets exactly one reply; exceptions never
// leave run().
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>

#include <zmq.hpp>

#include "common/chunk_store.h"
#include "common/codec.h"

namespace p2p::peer {

struct WorkerConfig {
  std::string backend_endpoint;  // the proxy's inproc DEALER
  std::string peer_id;           // reported in CommitReply
  std::chrono::milliseconds forward_timeout{10000};
  std::string committed_endpoint;  // inproc PULL of the storage service; empty = nobody listens
};

class TransferWorker {
 public:
  TransferWorker(zmq::context_t& ctx, ChunkStore& store, WorkerConfig config);
  TransferWorker(const TransferWorker&) = delete;
  TransferWorker& operator=(const TransferWorker&) = delete;

  // Serves requests until `stop` is set (checked at least every kStopCheckInterval).
  void run(const std::atomic<bool>& stop);

 private:
  // A successful reply: the OK body and an optional data frame.
  struct Reply {
    zmq::message_t body;
    zmq::message_t data;
    bool has_data = false;
  };

  void serve(codec::Envelope& request);
  Result<Reply> dispatch(codec::Envelope& request);
  Result<Reply> get_chunk(const codec::Envelope& request);
  Result<Reply> put_chunk(codec::Envelope& request);
  Result<Reply> commit(const codec::Envelope& request);
  Result<Reply> get_manifest(const codec::Envelope& request);

  // Sends a request to the next peer; returns the seq to wait for.
  Result<std::uint64_t> send_downstream(const std::string& endpoint, proto::Command command, zmq::message_t body,
                                        zmq::message_t* data);
  // Waits up to forward_timeout for the OK reply to `seq`. Any failure is
  // kForwardFailed carrying the downstream's message; after a timeout the
  // DEALER is dropped so a late reply cannot be taken for a later request's.
  Result<codec::Envelope> await_downstream(const std::string& endpoint, std::uint64_t seq);
  void notify_committed(const Hash& file_id);

  zmq::context_t& ctx_;
  ChunkStore& store_;
  WorkerConfig config_;
  zmq::socket_t rep_;
  zmq::socket_t committed_;  // PUSH to the storage service
  std::map<std::string, zmq::socket_t> downstream_;
  std::uint64_t seq_ = 0;
};

}  // namespace p2p::peer
