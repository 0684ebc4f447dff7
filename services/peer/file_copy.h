// The work of one REPLICATE order: make the local store hold a whole file by
// pulling the chunks it lacks from the order's sources (docs/protocol.md 5.5).
//
// Thread affinity: copy_file runs entirely in the calling thread, which
// creates and closes every socket it uses (fetch_chunks). The store may be
// shared with other threads (ChunkStore is thread-safe).
#pragma once

#include <cstdint>

#include <zmq.hpp>

#include "common/chunk_fetcher.h"
#include "common/chunk_store.h"
#include "common/protocol.h"
#include "common/status.h"

namespace p2p::peer {

// kBadRequest unless the manifest is valid and there is at least one source,
// each with a tcp:// endpoint (the only transport peers listen on).
Status validate_order(const proto::ReplicateOrder& order);

struct CopyReport {
  std::uint64_t fetched_chunks = 0;
  std::uint64_t fetched_bytes = 0;
};

// Checks from disk each chunk of `order.manifest` the store already has
// (ChunkStore::scrub_chunk: a corrupt one is dropped), fetches every chunk it
// lacks then (each verified by the fetcher, stored durably), and stores the
// manifest durably. On OK the file is complete here and every chunk of it
// was read or fetched intact by this call; announcing it is the caller's job.
// A chunk already here that cannot be read is its kIo. `fetch.cancelled`
// is asked between the checks too (kShuttingDown).
// Errors: kNoSpace when the missing bytes exceed the free capacity; the
// fetcher's kUnavailable/kShuttingDown; the store's kIo/kNoSpace;
// kMissingChunks if a chunk vanished meanwhile (a concurrent DELETE).
// REQUIRES: validate_order(order) is OK.
Result<CopyReport> copy_file(zmq::context_t& ctx, ChunkStore& store, const proto::ReplicateOrder& order,
                             const FetchOptions& fetch);

}  // namespace p2p::peer
