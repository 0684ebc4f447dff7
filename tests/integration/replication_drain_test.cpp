// Leave (docs/replication.md "Leave (drain)"): a peer told to leave, by
// SIGTERM or `p2p leave`, keeps serving until the tracker releases it, which
// happens only once its files are safe on the others; then it exits 0.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/json_output.h"
#include "tests/support/replicated_files.h"

using namespace p2p::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A drain copies a few MiB at most here; generous for a loaded CI box.
constexpr auto kDrainTimeout = 60s;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Every file has at least `want` live holders other than `gone_id`, per `p2p stat`.
void check_safe_without(const Cluster& c, const std::vector<TestFile>& files, const std::string& gone_id,
                        std::size_t want) {
  for (auto& [name, ids] : holder_map(c, files)) {
    INFO(name << " without " << gone_id);
    ids.erase(gone_id);
    CHECK(ids.size() >= want);
  }
}

std::size_t count_manifests(const fs::path& data) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(data / "manifests"))
    if (e.is_regular_file()) ++n;
  return n;
}

}  // namespace

TEST_CASE("peers stopped one by one with SIGTERM exit 0 only once every file is at min(k, live) holders, down to "
          "the last peer",
          "[replication][drain]") {
  Cluster c(replication_cluster(4));
  auto files = write_files(
      c, "drain", {1 * kKiB, 64 * kKiB + 1, 700 * kKiB, kMiB, kMiB + 1, 2 * kMiB + 7, 3 * kMiB, 5 * kMiB}, 500);
  put_files(c, files, 3);
  {
    auto off = files_not_at(c, files, 3);
    INFO(join_lines(off));
    REQUIRE(off.empty());
  }

  const std::size_t last = c.peer_count() - 1;
  for (std::size_t i = 0; i < last; ++i) {
    const std::string id = c.peer_id(i);
    const std::size_t live_after = c.peer_count() - i - 1;
    const std::size_t want = std::min<std::size_t>(3, live_after);
    INFO("SIGTERM to peer " << i << " (" << id << "), " << live_after << " peers left");
    const auto signalled = Clock::now();
    // The peer exits on its own once the tracker releases it.
    int code = c.stop_peer(i, SIGTERM, kDrainTimeout);
    const double drained = seconds_since(signalled);
    {
      INFO(c.logs());
      REQUIRE(code == 0);
    }
    // Nothing depended on it when it left.
    check_safe_without(c, files, id, want);
    REQUIRE(c.wait_for_peers(live_after, 10s));
    std::vector<std::string> off = wait_files_at(c, files, want, 10s);
    bool settled = off.empty();
    INFO(join_lines(off));
    CHECK(settled);
    report_figure("SIGTERM drain of peer " + std::to_string(i) + " (" + std::to_string(live_after) +
                  " left): exit 0 after " + std::to_string(drained) + " s");
  }

  // Everything from the last peer alone.
  auto bad = files_not_identical(c, files, c.path("out"));
  {
    INFO(join_lines(bad));
    CHECK(bad.empty());
  }
  // The last peer of the network is released at once and keeps its data.
  const auto signalled = Clock::now();
  CHECK(c.stop_peer(last, SIGTERM, 10s) == 0);
  CHECK(seconds_since(signalled) < 5.0);
  CHECK(count_manifests(c.peer_data(last)) == files.size());
}

TEST_CASE("p2p leave makes a peer drain and exit 0 with its files safe on the others", "[replication][drain][leave]") {
  Cluster c(replication_cluster(4));
  auto files = write_files(c, "leave", {2 * kKiB, 200 * kKiB, kMiB + 1, 2 * kMiB, 4 * kMiB + 3, 6 * kMiB}, 600);
  put_files(c, files, 3);
  std::vector<std::string> affected;
  const std::size_t leaver = peer_holding_most(c, holder_map(c, files), &affected);
  const std::string id = c.peer_id(leaver);

  const auto asked = Clock::now();
  RunResult leave = c.p2p({"leave", id, "--json"});
  {
    INFO(describe(leave));
    REQUIRE(leave.exit_code == 0);
    auto j = parse_json(leave);
    CHECK(j["peer_id"] == id);
    CHECK(j["draining"] == true);
  }
  auto code = c.peer_process(leaver).wait(kDrainTimeout);
  {
    INFO(c.logs());
    REQUIRE(code.has_value());
    CHECK(*code == 0);
  }
  report_figure("p2p leave of a peer holding " + std::to_string(affected.size()) + " files: exit 0 after " +
                std::to_string(seconds_since(asked)) + " s");
  check_safe_without(c, files, id, 3);
  REQUIRE(c.wait_for_peers(3, 10s));
  std::vector<std::string> off = wait_files_at(c, files, 3, 10s);
  bool settled = off.empty();
  {
    INFO(join_lines(off));
    CHECK(settled);
  }
  auto bad = files_not_identical(c, files, c.path("out"));
  {
    INFO(join_lines(bad));
    CHECK(bad.empty());
  }

  // A peer that is gone, or never was, cannot be asked to leave.
  for (const std::string& unknown : {id, std::string("0123456789abcdef")}) {
    RunResult r = c.p2p({"leave", unknown});
    INFO(describe(r));
    CHECK(r.exit_code == 4);
  }
}

TEST_CASE("a copy whose first sources hang asks the next after the peer's --hedge-ms, not at its chunk timeout",
          "[replication][drain]") {
  // Liveness 100 x 300 ms: the frozen holders stay listed, first among a
  // copy's sources (the draining one comes last), for ~30 s. No rejoin
  // window: this tracker never restarts, so no peer can be rejoining it, and
  // a stat would otherwise wait out those 30 s for a complete index.
  ClusterOptions options = replication_cluster(4, {"--rejoin-window-ms", "0"}).with_liveness(100).with_peer_args(
      {"--hedge-ms", "2500", "--chunk-timeout-ms", "60000"});
  options.heartbeat_ms = 300;
  Cluster c(options);
  auto files = write_files(c, "hung", {kKiB}, 700);  // one chunk
  put_files(c, files, 3);
  const std::set<std::string> holders = holder_map(c, files).at(files[0].name);
  REQUIRE(holders.size() == 3);
  std::vector<std::size_t> holding;
  for (const std::string& id : holders) holding.push_back(c.peer_index(id).value());
  std::sort(holding.begin(), holding.end());
  // The first two holders hang with their connections open; the third leaves,
  // so its file must be copied to the fourth peer from the two hung ones and it.
  REQUIRE(c.peer_process(holding[0]).signal(SIGSTOP));
  REQUIRE(c.peer_process(holding[1]).signal(SIGSTOP));

  const auto signalled = Clock::now();
  const int code = c.stop_peer(holding[2], SIGTERM, kDrainTimeout);
  const double drained = seconds_since(signalled);
  INFO(c.logs());
  CHECK(code == 0);
  // One source more each 2.5 s: the chunk reaches the leaving peer's turn
  // after 5 s, not sooner (the default is 1 s) and not at the 60 s chunk timeout.
  CHECK(drained >= 5.0);
  CHECK(drained < 40.0);
}
