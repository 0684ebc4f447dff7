// `p2p put PATH`: store a local file in the network (docs/design-brief.md "Put").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "client/exit_codes.h"
#include "client/global_options.h"
#include "client/retry_policy.h"
#include "client/session.h"
#include "common/limits.h"
#include "common/status.h"

namespace p2p::client {

struct PutOptions {
  std::string path;
  std::optional<std::string> name;  // absent: the file name of `path`; "" is refused like any bad name
  std::uint32_t replicas = 0;   // 0: the tracker's default
  bool force = false;           // replace a different file of the same name
  std::uint64_t chunk_size = limits::kDefaultChunkSize;
  // false: chunk_size is the default, which a file of more than
  // limits::kMaxChunksPerFile chunks raises (chunk_size_for).
  bool chunk_size_given = false;
  bool json = false;
  // --retry-ms: how long after a first failure a put a retry can mend (a busy
  // or dead peer, a busy tracker: worth_retrying) is started again from
  // PLACE; 0: never.
  // RetryPolicy's budget by default, as the load generator's.
  std::chrono::milliseconds retry = RetryPolicy{}.budget;
};

// The chunk size a put of `size` bytes uses: `requested`, or when the file
// would need more than limits::kMaxChunksPerFile chunks of it and it was not
// given, the smallest power of two that fits. kUsage when the file needs more
// chunks than allowed at the requested size (given) or at the largest.
Result<std::uint32_t> chunk_size_for(std::uint64_t size, std::uint32_t requested, bool given);

// True for a failure that a new attempt, placed again by the tracker, can
// mend: a peer of the pipeline was busy, stopping, dead or slow, or the
// tracker was busy (Failure::tracker_busy). Not for the user's input, the
// name, a full network, or a tracker that is not there.
bool worth_retrying(const Failure& failure);

// Returns the process exit code; prints the result on stdout and any
// failure as one line on stderr.
int run_put(zmq::context_t& ctx, const GlobalOptions& global, const PutOptions& options);

}  // namespace p2p::client
