// Session: the client library. One tracker connection and a pool of holder
// connections kept across operations, so the CLI's commands and the load
// generator (client/load/) speak the protocol the same way and a stream of
// small gets costs round trips, not handshakes.
//
// - locate/search/stat...: one request each on the tracker DEALER
//   (TrackerClient: fresh seq per request, stale replies dropped, the socket
//   reopened after a timeout -- Lazy Pirate).
// - fetch/get: GET_CHUNK from every holder at once over the pooled DEALERs
//   (common/chunk_fetcher.h); a holder that times out or misbehaves has its
//   connection closed and reopened on next use.
// - put: PLACE, the PUT_CHUNK write pipeline, COMMIT, PUBLISH.
//
// Failures are a Status plus an Origin (who reported it), which the CLI maps
// to an exit code (client/exit_codes.h).
//
// Ownership: owns its sockets; the context must outlive the Session.
// Thread affinity: one thread for the whole lifetime (one Session per
// load-generator client thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "client/connection_pool.h"
#include "client/exit_codes.h"
#include "client/global_options.h"
#include "common/chunk_fetcher.h"
#include "common/chunk_reader.h"
#include "common/manifest.h"
#include "common/protocol.h"
#include "common/status.h"
#include "common/tracker_client.h"

namespace p2p::client {

struct SessionOptions {
  std::string tracker = "tcp://127.0.0.1:5555";
  std::chrono::milliseconds timeout{3000};         // each tracker request
  std::chrono::milliseconds chunk_timeout{10000};  // each peer request
  // A chunk request unanswered this long is also sent to an idle holder
  // (FetchOptions::hedge_after); at or above chunk_timeout, never.
  std::chrono::milliseconds hedge_after = FetchOptions{}.hedge_after;
  // GET_CHUNK requests in flight per holder (common/chunk_fetcher.h).
  std::size_t window = FetchOptions{}.window;
};

// The Session the CLI's global flags describe.
SessionOptions session_options(const GlobalOptions& global);

// A failed operation: what went wrong and who said so.
struct Failure {
  Status status;
  Origin origin = Origin::kLocal;
  std::string peer_id;  // a put's: the peer that failed it, when one is to blame (PutPipeline::failed_peer)
  // A tracker request timed out on a live connection (TrackerClient::busy):
  // the tracker is there but busy, so asking again may be answered.
  bool tracker_busy = false;
};

struct GetResult {
  Hash file_id;
  Manifest manifest;
  std::uint64_t fetched_bytes = 0;
};

struct PutRequest {
  std::string name;
  std::uint32_t replicas = 0;  // 0: the tracker's default
  bool force = false;
  std::vector<std::string> avoid;  // peer ids for PLACE to leave out (docs/protocol.md 5.2)
};

// After a failed attempt of `request`: the next one's PLACE avoids the peer
// `failure` blames, if any (at most limits::kMaxAvoidedPeers of them).
void avoid_blamed_peer(PutRequest& request, const Failure& failure);

struct PutResult {
  Hash file_id;
  Manifest manifest;
  std::vector<std::string> holders;  // peer ids that committed
  std::uint32_t wanted = 0;          // replicas asked for
  bool already_stored = false;       // same content under the same name: nothing uploaded
};

class Session {
 public:
  Session(zmq::context_t& ctx, SessionOptions options);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const SessionOptions& options() const { return options_; }
  TrackerClient& tracker() { return tracker_; }
  const ConnectionPool& connections() const { return pool_; }

  // LOCATE `query` (a name or 64 hex digits of a file id), with the reply
  // checked: a valid manifest matching its file id and the query.
  std::optional<proto::LocateReply> locate(const std::string& query, Failure* failure);
  Result<proto::ListReply> search(const std::string& pattern);

  // GET_CHUNK of `indexes` from `holders` into `sink` (verified chunks only).
  Status fetch(const Manifest& manifest, const std::vector<std::uint64_t>& indexes,
               const std::vector<proto::HolderInfo>& holders, ChunkSink& sink, const FetchProgress& progress = {});

  // locate + every chunk into `sink`. On failure, `failure` says who failed.
  std::optional<GetResult> get(const std::string& query, ChunkSink& sink, Failure* failure);

  // Stores the chunks of `source` under request.name. Validates nothing the
  // caller can check first (name, chunk size, replicas: the CLI's usage errors).
  std::optional<PutResult> put(const PutRequest& request, ChunkSource& source, Failure* failure,
                               const FetchProgress& progress = {});

 private:
  zmq::context_t& ctx_;
  SessionOptions options_;
  TrackerClient tracker_;
  ConnectionPool pool_;
};

}  // namespace p2p::client
