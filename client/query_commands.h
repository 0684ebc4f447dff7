// Read-only tracker queries: search, ls, stat, peers, status.
// Human-readable tables on stdout by default, JSON with --json.
#pragma once

#include <chrono>
#include <string>

#include <zmq.hpp>

#include "client/global_options.h"

namespace p2p::client {

// Each returns the process exit code.
//
// search, ls and stat ask again, until `retry` after the first such answer,
// while the tracker's index may lack files that exist (its peers are
// re-announcing after it restarted: the reply's `index` is incomplete, or
// STAT answers `announcing`), and while the tracker is busy (a request timed
// out on a live connection: TrackerClient::busy). Still incomplete then,
// they print the last answer with a warning and exit 6: the answer is not
// final (protocol.md 5.4); still busy, they exit 3 as a timeout does.
int run_search(zmq::context_t& ctx, const GlobalOptions& global, const std::string& pattern, bool json,
               std::chrono::milliseconds retry);
int run_ls(zmq::context_t& ctx, const GlobalOptions& global, bool json, std::chrono::milliseconds retry);
int run_stat(zmq::context_t& ctx, const GlobalOptions& global, const std::string& query, bool json,
             std::chrono::milliseconds retry);
//
// peers and status ask again only while the tracker is busy, within `retry`
// of the first busy timeout: status never waits for the index, it shows
// whether the index is complete beside the counts.
int run_peers(zmq::context_t& ctx, const GlobalOptions& global, bool json, std::chrono::milliseconds retry);
int run_status(zmq::context_t& ctx, const GlobalOptions& global, bool json, std::chrono::milliseconds retry);

}  // namespace p2p::client
