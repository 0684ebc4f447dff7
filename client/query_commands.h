// Read-only tracker queries: search, ls, stat, peers, status.
// Human-readable tables on stdout by default, JSON with --json.
#pragma once

#include <chrono>
#include <string>

#include <zmq.hpp>

#include "client/global_options.h"

namespace p2p::client {

// Each returns the process exit code.
int run_search(zmq::context_t& ctx, const GlobalOptions& global, const std::string& pattern, bool json);
int run_ls(zmq::context_t& ctx, const GlobalOptions& global, bool json);
// Asks again, until `retry` after the first answer, while the tracker answers
// `announcing` (it does not know the name yet: peers are re-announcing).
int run_stat(zmq::context_t& ctx, const GlobalOptions& global, const std::string& query, bool json,
             std::chrono::milliseconds retry);
int run_peers(zmq::context_t& ctx, const GlobalOptions& global, bool json);
int run_status(zmq::context_t& ctx, const GlobalOptions& global, bool json);

}  // namespace p2p::client
