// A copy thread of the replication service's pool: carries out one
// REPLICATE order at a time, handed over on an inproc PAIR socket.
//
//   replication thread --PAIR--> order (msgpack ReplicateOrder)
//   copy thread        --PAIR--> result (msgpack ReplicatedBody), once the copy ends
//
// A successful copy is announced through the storage service (the same
// "file committed" inproc event transfer workers send after a COMMIT) before
// the result goes back. One log line at the start and one at the end of
// every copy (file id, name, bytes, seconds, result).
//
// Thread affinity: run_copy_worker() is the whole thread body; it creates,
// uses and closes its sockets. `ctx`, `store` and `stop` outlive the thread.
#pragma once

#include <atomic>
#include <string>

#include <zmq.hpp>

#include "common/chunk_fetcher.h"
#include "common/chunk_store.h"

namespace p2p::peer {

struct CopyWorkerConfig {
  std::string order_endpoint;      // inproc PAIR the replication thread binds
  std::string committed_endpoint;  // storage service's PULL; empty = announce nothing
  FetchOptions fetch;              // `cancelled` is replaced by the stop flag
};

// Serves orders until `stop`; a copy in progress gives up within
// kCancelCheckInterval of `stop` and reports shutting_down. Never throws.
void run_copy_worker(zmq::context_t& ctx, ChunkStore& store, CopyWorkerConfig config, const std::atomic<bool>& stop);

}  // namespace p2p::peer
