// TransferService: the peer's data plane (docs/design-brief.md "Data plane").
//
//   clients, peers --DEALER--> ROUTER frontend (--listen)
//                                  | proxy thread (this file)
//                              DEALER backend (inproc)
//                                  |
//                              N DEALER workers (TransferWorker), one thread each
//
// The proxy is our own loop rather than zmq_proxy so that shutdown can drain:
// once stopping, new requests are refused with shutting_down while replies
// keep flowing back until nothing is in flight or drain_timeout passes.
// A control thread keeps the "transfer" ServiceLink registered with the tracker.
//
// Thread affinity: start(), stop() and join() from one owning thread. Every
// socket lives in the thread that created it.
// Lifetime: `ctx` and `store` outlive the service; join() before destroying them.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/chunk_store.h"
#include "common/service_link.h"

namespace p2p::peer {

struct TransferOptions {
  std::string listen = "tcp://127.0.0.1:0";
  std::string advertise;  // empty: the bound endpoint
  unsigned workers = 4;
  std::chrono::milliseconds forward_timeout{10000};
  // Bound on finishing requests in flight at shutdown: a pipeline step waits
  // at most forward_timeout for the next peer, plus its own disk work.
  std::chrono::milliseconds drain_timeout{11000};
  std::string committed_endpoint;  // storage service's inproc PULL; empty = none
  std::function<bool(const Hash&)> check_chunk;  // WorkerConfig::check_chunk; must outlive join()
  ServiceLinkOptions link;         // service and endpoint are filled in by start()
};

class TransferService {
 public:
  TransferService(zmq::context_t& ctx, ChunkStore& store, TransferOptions options);
  ~TransferService();  // stop() + join()
  TransferService(const TransferService&) = delete;
  TransferService& operator=(const TransferService&) = delete;

  // Binds the frontend and starts every thread. Returns the advertised
  // endpoint; kBadRequest when the endpoint cannot be bound.
  Result<std::string> start();
  // Leaves the tracker and starts draining; returns at once.
  void stop();
  // Waits for the drain, then stops the workers. Idempotent.
  void join();

 private:
  void run_proxy(zmq::socket_t& frontend, zmq::socket_t& backend);
  void run_control(ServiceLinkOptions link);

  zmq::context_t& ctx_;
  ChunkStore& store_;
  TransferOptions options_;
  std::string backend_endpoint_;
  std::atomic<bool> stop_{false};          // proxy drains, control leaves
  std::atomic<bool> stop_workers_{false};  // after the drain
  std::thread proxy_;
  std::thread control_;
  std::vector<std::thread> workers_;
};

}  // namespace p2p::peer
