// `p2p get NAME_OR_FILE_ID`: fetch a file from its holders (docs/design-brief.md "Get").
#pragma once

#include <chrono>
#include <string>

#include <zmq.hpp>

#include "client/global_options.h"
#include "client/retry_policy.h"

namespace p2p::client {

struct GetOptions {
  std::string query;   // a name or a 64-hex-digit file id
  std::string output;  // empty: ./NAME; an existing directory: DIR/NAME
  bool force = false;  // overwrite an existing output
  bool json = false;
  // --retry-ms: how long after a first failure a get whose holders all
  // failed asks the tracker again (docs/protocol.md 5.4); 0: never.
  std::chrono::milliseconds retry = RetryPolicy{}.budget;
};

// Returns the process exit code; prints where it wrote on stdout and any
// failure as one line on stderr.
int run_get(zmq::context_t& ctx, const GlobalOptions& global, const GetOptions& options);

}  // namespace p2p::client
