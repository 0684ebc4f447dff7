// ScriptCluster: a cluster started the way `make cluster` starts one
// (scripts/cluster start, RUN_DIR inside a TempDir, PORT=0), for the tests of
// the scripts that drive such a cluster (scripts/load-test).
//
// Ownership: owns the TempDir and, through the pid files scripts/cluster
// writes there, every process recorded in it. scripts/cluster puts its
// servers in their own sessions, so they are not children of the test; the
// destructor SIGKILLs every recorded pid that still runs a p2p binary, again
// until none is left (a script's restart may race it), and prints the logs'
// tails when it runs during unwinding or with P2P_TEST_LOGS=1.
// Not copyable. Use from the test's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace p2p::test {

struct ScriptClusterOptions {
  std::size_t peers = 3;
  int heartbeat_ms = 100;          // HEARTBEAT_MS: deaths seen within a second
  int liveness = 5;                // LIVENESS: room for a CPU-starved peer on a 2-core box
  int forward_timeout_ms = 1000;   // FORWARD_TIMEOUT_MS: a dead next peer stalls a pipeline 1 s, not 10 s
  std::string scrub_rate;          // SCRUB_RATE; empty: the peer's default
  int scrub_interval_ms = 0;       // SCRUB_INTERVAL_MS; 0: the peer's default (a day)

  ScriptClusterOptions with_peers(std::size_t n) const { auto o = *this; o.peers = n; return o; }
  ScriptClusterOptions with_scrub(std::string rate, int interval_ms) const {
    auto o = *this;
    o.scrub_rate = std::move(rate);
    o.scrub_interval_ms = interval_ms;
    return o;
  }
};

// The source tree (P2P_SOURCE_DIR from tests/CMakeLists.txt), for scripts/.
std::filesystem::path source_dir();
// The build dir the binaries are in (the parent of bin_path()'s bin/).
std::filesystem::path build_dir();

class ScriptCluster {
 public:
  // Runs scripts/cluster start. Throws std::runtime_error with its output if it fails.
  explicit ScriptCluster(ScriptClusterOptions options = {});
  ~ScriptCluster();
  ScriptCluster(const ScriptCluster&) = delete;
  ScriptCluster& operator=(const ScriptCluster&) = delete;

  const std::filesystem::path& run_dir() const { return run_dir_; }
  std::filesystem::path path(const std::string& child) const { return dir_ / child; }
  const std::string& tracker_endpoint() const { return tracker_endpoint_; }
  std::size_t peer_count() const { return options_.peers; }

  // Runs scripts/<script> args... with RUN_DIR and BUILD_DIR set for this
  // cluster, `env` ("K=V") added and P2P_TRACKER removed.
  RunResult script(const std::string& script, const std::vector<std::string>& args,
                   std::chrono::milliseconds timeout, const std::vector<std::string>& env = {}) const;

  // Recorded peers whose pid runs p2p-peer now.
  std::size_t running_peers() const;

  // Tails of every log in RUN_DIR.
  std::string logs(std::size_t bytes_per_log = 3000) const;

 private:
  // Recorded pids (tracker and peers) that still run a p2p binary.
  std::vector<int> running_pids(const std::string& binary = "p2p-") const;

  ScriptClusterOptions options_;
  TempDir dir_;
  std::filesystem::path run_dir_;
  std::string tracker_endpoint_;
};

}  // namespace p2p::test
