// Cluster: one tracker and N peers on 127.0.0.1, each peer with its own data
// dir, all inside one TempDir, plus a way to run the `p2p` CLI against them.
//
// Ownership: owns every process it started and the TempDir; the destructor
// kills and reaps them all (Process) and removes the dir (TempDir). When it is
// destroyed during stack unwinding (a REQUIRE failed or something threw), or
// P2P_TEST_LOGS=1 is set, it first prints the tail of every log to stderr.
// Not copyable or movable. Use from the test's thread only; p2p() alone may be
// called from several threads at once.
#pragma once

#include <csignal>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace p2p::test {

struct ClusterOptions {
  std::size_t peers = 3;
  // Short heartbeats so deaths and rejoins are seen within a second. Liveness 5
  // (not 3) leaves room for a peer briefly starved of CPU on a loaded 2-core CI box.
  int heartbeat_ms = 100;
  int liveness = 5;
  // The peers' own patience with a silent tracker, if it should differ from
  // the tracker's with them (`liveness`).
  std::optional<int> peer_liveness;
  std::optional<int> replicas;              // tracker --replicas (its default if unset)
  std::vector<std::string> tracker_args;    // extra flags for the tracker
  std::vector<std::string> peer_args;       // extra flags for every peer
  std::chrono::milliseconds startup_timeout = std::chrono::seconds(15);

  // Chainable copies, e.g. ClusterOptions{}.with_peers(1).with_liveness(50)
  // (designated initializers trip -Wmissing-field-initializers in GCC 12).
  ClusterOptions with_peers(std::size_t n) const { auto o = *this; o.peers = n; return o; }
  ClusterOptions with_liveness(int n) const { auto o = *this; o.liveness = n; return o; }
  ClusterOptions with_peer_liveness(int n) const { auto o = *this; o.peer_liveness = n; return o; }
  ClusterOptions with_peer_args(std::vector<std::string> a) const { auto o = *this; o.peer_args = std::move(a); return o; }
  ClusterOptions with_tracker_args(std::vector<std::string> a) const {
    auto o = *this;
    o.tracker_args = std::move(a);
    return o;
  }
};

// How long stop_peer() waits for a signalled peer before SIGKILL.
inline constexpr std::chrono::milliseconds kDefaultStopGrace = std::chrono::seconds(10);

class Cluster {
 public:
  // Starts the tracker and the peers and waits until `p2p peers` lists them
  // all. Throws std::runtime_error (with log tails) if that does not happen.
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& tracker_endpoint() const { return tracker_endpoint_; }
  const TempDir& dir() const { return dir_; }
  // A path inside the cluster's temp dir, for test inputs and outputs.
  std::filesystem::path path(std::string_view child) const { return dir_ / child; }

  // Runs `p2p --tracker <tracker> [--timeout-ms 3000] args...` to completion.
  RunResult p2p(const std::vector<std::string>& args,
                std::chrono::milliseconds timeout = std::chrono::seconds(120)) const;
  // Starts `p2p --tracker <tracker> args...` in the background (stderr to a log).
  Process p2p_background(const std::vector<std::string>& args, std::string_view log_name) const;

  std::size_t peer_count() const { return peers_.size(); }
  const std::string& peer_endpoint(std::size_t i) const { return peers_.at(i).endpoint; }
  const std::filesystem::path& peer_data(std::size_t i) const { return peers_.at(i).data; }
  std::string peer_id(std::size_t i) const;  // DIR/peer_id; "" if not written yet
  // Index of the peer with this endpoint or peer id; nullopt if none.
  std::optional<std::size_t> peer_index(std::string_view endpoint_or_id) const;
  Process& peer_process(std::size_t i) { return *peers_.at(i).process; }
  Process& tracker_process() { return *tracker_; }
  // stderr logs (appended to across restarts).
  const std::filesystem::path& peer_log(std::size_t i) const { return peers_.at(i).log; }
  std::filesystem::path tracker_log() const { return dir_ / "tracker.log"; }

  // Starts one more peer (with options.peer_args plus `extra_args`) and
  // returns its index. Does not wait for it to register.
  std::size_t add_peer(const std::vector<std::string>& extra_args = {});

  // Sends `sig` to peer i and reaps it (SIGKILL after `grace` if it lingers,
  // then returns -1). Returns its exit code (128+N when killed by signal N).
  // A SIGTERM'd peer drains first, so give it a grace long enough for its copies.
  int stop_peer(std::size_t i, int sig = SIGKILL, std::chrono::milliseconds grace = kDefaultStopGrace);
  // Starts peer i again on the same data dir and the same endpoint.
  void restart_peer(std::size_t i);
  // Starts peer i again on the same data dir on a new OS-chosen port, as a
  // peer moved to another host would come back.
  void restart_peer_elsewhere(std::size_t i);
  int stop_tracker(int sig = SIGKILL);
  // Starts the tracker again on the same port; peers are not told.
  // `tracker_args`, when given, replace options.tracker_args from now on
  // (e.g. a first tracker with no rejoin window, restarted with one).
  void restart_tracker(std::optional<std::vector<std::string>> tracker_args = std::nullopt);

  // Number of peers `p2p peers --json` lists; nullopt if the tracker does not answer.
  std::optional<std::size_t> live_peers() const;
  // Polls live_peers() until it equals n.
  bool wait_for_peers(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;

  // Tails of every log (tracker, peers, background clients), for failure messages.
  std::string logs(std::size_t bytes_per_log = 3000) const;

 private:
  struct Peer {
    std::filesystem::path data;
    std::filesystem::path log;
    std::string listen;    // what to pass to --listen (a fixed port after the first start)
    std::string endpoint;  // from its `listening` line
    std::vector<std::string> extra_args;
    std::unique_ptr<Process> process;
  };

  void start_tracker(const std::string& listen);
  void start_peer(Peer& peer);

  ClusterOptions options_;
  TempDir dir_;
  std::unique_ptr<Process> tracker_;
  std::string tracker_listen_;
  std::string tracker_endpoint_;
  std::vector<Peer> peers_;
};

// Multi-line description of a CLI run (command, exit code, stdout, stderr)
// for INFO() messages.
std::string describe(const RunResult& r);

// The port of "tcp://host:port"; throws if there is none.
int endpoint_port(const std::string& endpoint);

}  // namespace p2p::test
