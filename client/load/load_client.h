// LoadClient: one simulated client of a load run. It owns a Session (its
// own tracker and holder connections) and runs on its own thread: it puts
// seeded files before the measured phase, then draws operations from the mix
// until the deadline (or, with each_once, gets every seeded file once in
// catalog order) and records each one in its LoadReport.
//
// A failed operation is retried per LoadConfig::retry (client/
// retry_policy.h: a time budget from the first failure, doubling backoff), so
// a peer killed mid-run costs retries, not a failure; the latency recorded is
// the whole operation's, retries and backoff included. A get hashes what
// it receives (HashingSink, nothing written to disk) and compares the file's
// SHA-256 with the catalog's.
//
// Thread affinity: construct, use and destroy on the client's thread. The
// context, config and catalog must outlive it; the catalog is shared.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include <zmq.hpp>

#include "client/load/file_catalog.h"
#include "client/load/load_report.h"
#include "client/load/op_mix.h"
#include "client/load/size_spec.h"
#include "client/retry_policy.h"
#include "client/session.h"

namespace p2p::client::load {

struct LoadConfig {
  SessionOptions session;
  std::size_t clients = 8;
  std::chrono::milliseconds duration{10000};
  std::size_t files = 200;
  OpMix mix;
  SizeSpec sizes;
  bool each_once = false;
  std::uint64_t seed = 1;
  std::string run_id;          // makes this run's file names unique
  RetryPolicy retry;
};

// Name of seeded file `index` of run `run_id`.
std::string seeded_name(const std::string& run_id, std::size_t index);

class LoadClient {
 public:
  LoadClient(zmq::context_t& ctx, const LoadConfig& config, FileCatalog& catalog, std::size_t id);

  // Puts seeded file `index` (retried like any put, counted in `stats`); its
  // catalog entry, or nullopt with `why` set when every attempt failed.
  std::optional<CatalogEntry> seed(std::size_t index, OpStats& stats, std::string* why);

  // The measured phase: operations until `deadline` (each_once: until every
  // seeded file was got once). The report carries ops and corruption only.
  LoadReport run(std::chrono::steady_clock::time_point deadline);

 private:
  void do_get(const CatalogEntry& entry, LoadReport& report);
  void do_put(LoadReport& report);
  void do_query(Op op, LoadReport& report);
  std::optional<CatalogEntry> put_file(const std::string& name, std::uint64_t content_seed, std::uint64_t size,
                                       OpStats& stats, std::string* why);

  const LoadConfig& config_;
  FileCatalog& catalog_;
  std::size_t id_;
  Session session_;
  std::mt19937_64 rng_;
  std::uint64_t puts_ = 0;  // files this client put during the run (names them)
};

}  // namespace p2p::client::load
