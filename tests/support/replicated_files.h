// Helpers for the replication tests: sets of test files put into a cluster,
// their holders as the tracker reports them, byte-identity checks of every
// file, and the copy lines of peer and tracker logs.
//
// Failures of the CLI that a helper cannot work around throw
// std::runtime_error carrying describe(run), like parse_json(), so the test
// report shows the command and its output. Use from the test's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/cluster.h"

namespace p2p::test {

constexpr std::uint64_t kKiB = 1u << 10;
constexpr std::uint64_t kMiB = 1u << 20;

// The clocks the replication tests run with: heartbeat 100 ms x liveness 5
// (ClusterOptions' defaults) and a repair grace of 1 s.
constexpr std::chrono::milliseconds kLivenessWindow{500};
constexpr std::chrono::milliseconds kRepairGrace{1000};

// ClusterOptions for the replication tests: `peers` peers, tracker
// --repair-grace-ms kRepairGrace and --copy-timeout-ms 30000, plus `tracker_args`.
ClusterOptions replication_cluster(std::size_t peers, std::vector<std::string> tracker_args = {});

struct TestFile {
  std::string name;
  std::filesystem::path src;  // the original bytes, inside the cluster's dir
  std::uint64_t size = 0;
};

// Writes one pseudo-random source file per size, named "<prefix>-<i>.bin",
// seeds seed, seed+1, ...
std::vector<TestFile> write_files(const Cluster& c, std::string_view prefix, const std::vector<std::uint64_t>& sizes,
                                  std::uint64_t seed);

// `p2p put SRC --name NAME --replicas K` for each file; throws on a non-zero exit.
void put_files(const Cluster& c, const std::vector<TestFile>& files, unsigned replicas);

// One `p2p ls --json`: file name -> live holders. nullopt if the tracker does not answer.
std::optional<std::map<std::string, std::size_t>> holder_counts(const Cluster& c);

// Peer ids of the holders of NAME per `p2p stat NAME --json`; throws if stat fails.
std::set<std::string> holder_ids(const Cluster& c, const std::string& name);

// name -> holder peer ids of every file, one `p2p stat` each.
std::map<std::string, std::set<std::string>> holder_map(const Cluster& c, const std::vector<TestFile>& files);

// Index of the cluster peer that holds the most files of `holders`; throws if
// no holder is a cluster peer. `affected` (if given) receives those files.
std::size_t peer_holding_most(const Cluster& c, const std::map<std::string, std::set<std::string>>& holders,
                              std::vector<std::string>* affected = nullptr);

// Files whose holder count per one `p2p ls` differs from wanted(file) (missing
// files count as 0 holders), as "name: got N, want M" lines; one line
// "tracker did not answer" if ls fails. Empty means every file matches.
std::vector<std::string> files_not_at(const Cluster& c, const std::vector<TestFile>& files,
                                      const std::function<std::size_t(const TestFile&)>& wanted);
std::vector<std::string> files_not_at(const Cluster& c, const std::vector<TestFile>& files, std::size_t wanted);

// Polls files_not_at(c, files, wanted) every 50 ms until it is empty or
// `timeout` passes; returns the last answer (empty: every file got there).
std::vector<std::string> wait_files_at(const Cluster& c, const std::vector<TestFile>& files, std::size_t wanted,
                                       std::chrono::milliseconds timeout);

// Gets every file into `out_dir` (with --force) and compares size and SHA-256
// with its source. Returns one line per file that failed (get error or
// different bytes); empty means every file came back byte-identical.
std::vector<std::string> files_not_identical(const Cluster& c, const std::vector<TestFile>& files,
                                             const std::filesystem::path& out_dir);

// Joins lines for INFO() messages.
std::string join_lines(const std::vector<std::string>& lines);

// Copy lines of one peer's log ("replication: copy of ID (NAME ...) started /
// done / failed"): counts, the most copies that were running at once, bytes
// fetched and seconds spent by the copies that finished.
struct PeerCopyLog {
  int started = 0;
  int done = 0;
  int failed = 0;
  int max_concurrent = 0;
  std::uint64_t fetched_bytes = 0;
  double copy_seconds = 0;
};
PeerCopyLog read_peer_copy_log(const std::filesystem::path& log);

// Repair orders in the tracker's log ("repair file=F ... -> peer=P") matched
// with their results ("copy done|failed file=F ... peer=P"): the most orders in
// flight to one peer at once, and the number of orders and of trims.
struct TrackerCopyLog {
  int repairs = 0;
  int trims = 0;
  int max_in_flight_per_peer = 0;
  std::string busiest_peer;  // a peer that had max_in_flight_per_peer orders at once
};
TrackerCopyLog read_tracker_copy_log(const std::filesystem::path& log);

// True if `predicate` holds on every try during `duration` (tries every
// `interval`). For "stays true" checks: never below k, stays at k.
bool always(const std::function<bool()>& predicate, std::chrono::milliseconds duration,
            std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// Prints "[figure] <text>" on stderr: timings and throughputs the tests measure,
// for the CI log. Not an assertion.
void report_figure(const std::string& text);

}  // namespace p2p::test
