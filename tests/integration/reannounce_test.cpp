// A tracker indexing peers that hold many files, and restarted under them:
// their re-announcement outlasts the repair grace, and the tracker must wait
// for it (safe mode) instead of copying files whose other holders have not
// announced yet. When they leave, the tracker takes each off its files in
// steps and answers between them. The peers are p2p-bench-announce's fake
// ones (made-up manifests, no bytes), so tens of thousands of files cost a
// second.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/file_bytes.h"

using namespace p2p::test;
using namespace std::chrono_literals;

namespace {

constexpr int kFiles = 40000;  // per peer: ~0.5-1 s of announcements, several repair graces
const std::vector<std::string> kGrace = {"--repair-grace-ms", "200"};

}  // namespace

TEST_CASE("a tracker restarted under peers with many files indexes them all again, orders no copy or trim while "
          "they re-announce for longer than the repair grace, and answers while each of them departs",
          "[failover][tracker][scale]") {
  // Fresh: no rejoin window (as `scripts/cluster start`), the peers register after it.
  std::vector<std::string> fresh = kGrace;
  fresh.insert(fresh.end(), {"--rejoin-window-ms", "0"});
  Cluster c(ClusterOptions{}.with_peers(0).with_tracker_args(fresh));

  // The fake peers take 300 ms of silence (3 x 100 ms) for a dead tracker:
  // less than a thousand batches' work, so a tracker that stops sending
  // heartbeats while it reads them loses its peers (registrations > 3).
  Process announcer(bin_path("p2p-bench-announce"),
                    {"--tracker", c.tracker_endpoint(), "--peers", "3", "--files", std::to_string(kFiles), "--rounds",
                     "2", "--heartbeat-ms", "100", "--liveness", "3", "--linger-ms", "1000", "--round-timeout-s",
                     "120", "--json", c.path("announce.json").string()},
                    c.path("announce.log"));
  std::optional<std::string> round1 = announcer.read_line("round 1:", 150s);
  INFO(announcer.log_tail());
  REQUIRE(round1);

  // Restarted with its default rejoin window (liveness x heartbeat), as after a crash.
  const std::size_t log_before = read_bytes(c.tracker_log()).size();
  c.restart_tracker(kGrace);
  const std::optional<int> exit_code = announcer.wait(200s);
  INFO(announcer.log_tail());
  REQUIRE(exit_code);
  CHECK(*exit_code == 0);

  std::ifstream json_file(c.path("announce.json"));
  const nlohmann::json report = nlohmann::json::parse(json_file);
  REQUIRE(report["rounds"].size() == 2);
  for (const auto& round : report["rounds"]) {
    INFO("round " << round["round"]);
    // Each peer registered once: the tracker kept its heartbeats going while it
    // took the announcements, so no peer took it for dead and announced again.
    CHECK(round["registrations"] == 3);
    CHECK(round["replicate"] == 0);
    CHECK(round["delete"] == 0);
    // What makes the case: the announcement outlasted the repair grace.
    CHECK(round["complete_ms"].get<double>() > 200);
  }
  // Each peer's leave: the tracker took it off its 40,000 files in steps,
  // answering STATUS between them (it said how many files were left), and
  // finished.
  REQUIRE(report["leave_ms"].size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("departure " << i);
    CHECK(report["leave_ms"][i].get<double>() >= 0);
    CHECK(report["departure_done_ms"][i].get<double>() >= 0);
    CHECK(report["answered_while_departing"][i].get<double>() > 0);
  }
  // The restarted tracker ended safe mode on the complete index, not on a grace without batches.
  const std::string log2 = read_bytes(c.tracker_log()).substr(log_before);
  CHECK(log2.find("safe mode over") != std::string::npos);
  CHECK(log2.find("(the index is complete)") != std::string::npos);
}
