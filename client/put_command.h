// `p2p put PATH`: store a local file in the network (docs/design-brief.md "Put").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "client/global_options.h"
#include "common/limits.h"

namespace p2p::client {

struct PutOptions {
  std::string path;
  std::optional<std::string> name;  // absent: the file name of `path`; "" is refused like any bad name
  std::uint32_t replicas = 0;   // 0: the tracker's default
  bool force = false;           // replace a different file of the same name
  std::uint64_t chunk_size = limits::kDefaultChunkSize;
  bool json = false;
};

// Returns the process exit code; prints the result on stdout and any
// failure as one line on stderr.
int run_put(zmq::context_t& ctx, const GlobalOptions& global, const PutOptions& options);

}  // namespace p2p::client
