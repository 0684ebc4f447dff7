// A tracker indexing peers that hold many files, and restarted under them:
// their re-announcement outlasts the repair grace, and the tracker must wait
// for it (safe mode) instead of copying files whose other holders have not
// announced yet. The peers are p2p-bench-announce's fake ones (made-up
// manifests, no bytes), so tens of thousands of files cost a second.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/file_bytes.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace p2p::test;
using namespace std::chrono_literals;

namespace {

constexpr int kFiles = 40000;  // per peer: ~0.5-1 s of announcements, several repair graces
const std::vector<std::string> kTiming = {"--heartbeat-ms", "100", "--liveness", "5", "--repair-grace-ms", "200"};

struct Tracker {
  std::unique_ptr<Process> process;
  std::string endpoint;
};

// A tracker on `listen`; retries while a restart on a fixed port races the
// old socket's release.
Tracker start_tracker(const TempDir& dir, const std::string& listen, const std::vector<std::string>& extra,
                      const std::string& log) {
  std::vector<std::string> args = {"--listen", listen};
  args.insert(args.end(), kTiming.begin(), kTiming.end());
  args.insert(args.end(), extra.begin(), extra.end());
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    auto tracker = std::make_unique<Process>(bin_path("p2p-tracker"), args, dir / log);
    if (std::optional<std::string> endpoint = tracker->read_listening(5s)) return {std::move(tracker), *endpoint};
    tracker->kill_and_wait();
    if (std::chrono::steady_clock::now() >= deadline) FAIL("tracker did not start\n" << tracker->log_tail());
    std::this_thread::sleep_for(100ms);  // retry pacing, not synchronisation
  }
}

}  // namespace

TEST_CASE("a tracker restarted under peers with many files indexes them all again and orders no copy or trim while "
          "they re-announce for longer than the repair grace",
          "[failover][tracker][scale]") {
  TempDir dir("p2p-reannounce");
  // Fresh: no rejoin window (as `scripts/cluster start`), the peers register after it.
  Tracker tracker = start_tracker(dir, "tcp://127.0.0.1:0", {"--rejoin-window-ms", "0"}, "tracker1.log");
  const std::string endpoint = tracker.endpoint;

  Process announcer(bin_path("p2p-bench-announce"),
                    {"--tracker", endpoint, "--peers", "3", "--files", std::to_string(kFiles), "--rounds", "2",
                     "--heartbeat-ms", "100", "--liveness", "5", "--linger-ms", "1000", "--round-timeout-s", "120",
                     "--json", (dir / "announce.json").string()},
                    dir / "announce.log");
  std::optional<std::string> round1 = announcer.read_line("round 1:", 150s);
  INFO(announcer.log_tail() << tracker.process->log_tail());
  REQUIRE(round1);

  tracker.process->kill_and_wait();
  // Restarted with its default rejoin window (liveness x heartbeat), as after a crash.
  tracker = start_tracker(dir, endpoint, {}, "tracker2.log");
  const std::optional<int> exit_code = announcer.wait(200s);
  INFO(read_bytes(dir / "announce.log").substr(0, 4000) << read_bytes(dir / "tracker2.log").substr(0, 4000));
  REQUIRE(exit_code);
  CHECK(*exit_code == 0);

  std::ifstream json_file(dir / "announce.json");
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
  REQUIRE(report["leave_ms"].size() == 3);
  for (const auto& ms : report["leave_ms"]) CHECK(ms.get<double>() >= 0);
  // Safe mode ended on the complete index, not on a grace without batches.
  const std::string log2 = read_bytes(dir / "tracker2.log");
  CHECK(log2.find("safe mode over") != std::string::npos);
  CHECK(log2.find("(the index is complete)") != std::string::npos);
}
