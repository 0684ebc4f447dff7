// Peers joining and rejoining (docs/replication.md "Repair", "Rejoin and
// trim"): a put short of peers is completed when one joins; a dead peer's
// return is trimmed back to k without ever dropping below it; a file whose
// holders are all dead is unavailable, never dropped, until one returns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
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

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

nlohmann::json status(const Cluster& c) { return parse_json(c.p2p({"status", "--json"})); }

}  // namespace

TEST_CASE("a dead peer that rejoins on its old data dir never leaves a file below k and the surplus is trimmed back "
          "to exactly k",
          "[replication][rejoin][trim]") {
  Cluster c(replication_cluster(4));
  auto files = write_files(c, "rejoin",
                           {1 * kKiB, 50 * kKiB, 333 * kKiB, kMiB - 1, kMiB + 1, 2 * kMiB, 2 * kMiB + 9, 3 * kMiB,
                            4 * kMiB, 5 * kMiB},
                           900);
  put_files(c, files, 3);
  std::vector<std::string> affected;
  const std::size_t victim = peer_holding_most(c, holder_map(c, files), &affected);

  c.stop_peer(victim, SIGKILL);
  REQUIRE(c.wait_for_peers(3, 10s));
  {
    std::vector<std::string> off = wait_files_at(c, files, 3, kLivenessWindow + kRepairGrace + 15s);
    bool repaired = off.empty();
    INFO(join_lines(off));
    REQUIRE(repaired);
  }

  // Every sample of `p2p ls` from now on: no file below k.
  std::size_t max_seen = 0;
  std::vector<std::string> below;
  std::map<std::string, std::size_t> last;
  auto sample = [&] {
    auto counts = holder_counts(c);
    if (!counts) return false;
    last.clear();
    for (const auto& f : files) {
      std::size_t h = counts->count(f.name) ? counts->at(f.name) : 0;
      last[f.name] = h;
      max_seen = std::max(max_seen, h);
      if (h < 3) below.push_back(f.name + " at " + std::to_string(h));
    }
    return true;
  };
  auto all_at_k = [&] {
    return sample() && std::all_of(last.begin(), last.end(), [](const auto& e) { return e.second == 3; });
  };

  const auto rejoined = Clock::now();
  c.restart_peer(victim);
  REQUIRE(c.wait_for_peers(4, 10s));
  // Its announcements show up as surplus holders (the trim waits a grace)...
  bool surplus = eventually([&] { return sample() && max_seen > 3; }, 10s, 20ms);
  {
    INFO(c.logs());
    REQUIRE(surplus);
  }
  // ... which is trimmed back to exactly k ...
  bool trimmed = eventually(all_at_k, kRepairGrace + 20s, 20ms);
  const double trim_seconds = seconds_since(rejoined);
  {
    std::string now;
    for (const auto& [name, h] : last) now += name + ": " + std::to_string(h) + "\n";
    INFO(now);
    REQUIRE(trimmed);
  }
  // ... and stays there.
  CHECK(always(all_at_k, 2 * kRepairGrace, 50ms));
  {
    INFO(join_lines(below));
    CHECK(below.empty());
  }
  TrackerCopyLog log = read_tracker_copy_log(c.tracker_log());
  CHECK(log.trims >= 1);
  report_figure("rejoin of a peer holding " + std::to_string(affected.size()) + " repaired files: " +
                std::to_string(log.trims) + " trims, every file back at exactly 3 holders " +
                std::to_string(trim_seconds) + " s after the restart, max " + std::to_string(max_seen) +
                " holders seen");

  auto bad = files_not_identical(c, files, c.path("out"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}

TEST_CASE("a put with fewer live peers than --replicas succeeds with a warning and the file reaches k holders when a "
          "peer joins",
          "[replication][put]") {
  Cluster c(replication_cluster(2));
  auto files = write_files(c, "short", {3 * kMiB + 1}, 700);
  const TestFile& f = files[0];
  RunResult put = c.p2p({"put", f.src.string(), "--name", f.name, "--replicas", "3"});
  {
    INFO(describe(put));
    REQUIRE(put.exit_code == 0);
    CHECK(put.err.find("warning") != std::string::npos);
  }
  auto stat = parse_json(c.p2p({"stat", f.name, "--json"}));
  CHECK(stat["holders"] == 2);
  CHECK(stat["replicas"] == 3);

  // A started tracker plans nothing for one repair grace (docs/replication.md
  // "Tracker restart"); let that pass so what follows measures the repair itself.
  REQUIRE(eventually([&] { return read_text(c.tracker_log()).find("safe mode over") != std::string::npos; }, 10s));

  const std::size_t third = c.add_peer();
  REQUIRE(c.wait_for_peers(3, 10s));
  const auto joined = Clock::now();
  std::vector<std::string> off;
  bool reached = eventually(
      [&] {
        off = files_not_at(c, files, 3);
        return off.empty();
      },
      kLivenessWindow + 15s, 20ms);
  {
    INFO(join_lines(off));
    REQUIRE(reached);
  }
  // It was never above its count: repaired at once, without the repair grace.
  const double took = seconds_since(joined);
  CHECK(took < std::chrono::duration<double>(kRepairGrace).count());
  report_figure("put short of peers: 3rd holder " + std::to_string(took) + " s after the 3rd peer registered");
  CHECK(holder_ids(c, f.name).count(c.peer_id(third)) == 1);
  // The new copy alone serves the file.
  c.stop_peer(0, SIGKILL);
  c.stop_peer(1, SIGKILL);
  REQUIRE(c.wait_for_peers(1, 10s));
  auto bad = files_not_identical(c, files, c.path("out"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}

TEST_CASE("status reports a file unavailable while all its holders are dead and available again when one comes back",
          "[replication][unavailable]") {
  Cluster c(replication_cluster(3));
  auto solo = write_files(c, "solo", {2 * kMiB + 1}, 800);
  auto shared = write_files(c, "shared", {kMiB}, 810);
  put_files(c, solo, 1);
  put_files(c, shared, 3);
  {
    auto s = status(c);
    INFO(s.dump());
    CHECK(s["files"] == 2);
    CHECK(s["unavailable"] == 0);
  }
  auto ids = holder_ids(c, solo[0].name);
  REQUIRE(ids.size() == 1);
  const std::size_t holder = c.peer_index(*ids.begin()).value();

  c.stop_peer(holder, SIGKILL);
  REQUIRE(c.wait_for_peers(2, 10s));
  nlohmann::json s;
  bool unavailable = eventually(
      [&] {
        s = status(c);
        return s["unavailable"] == 1;
      },
      10s, 50ms);
  {
    INFO(s.dump());
    REQUIRE(unavailable);
    CHECK(s["files"] == 2);  // reported, never dropped
  }
  auto stat = parse_json(c.p2p({"stat", solo[0].name, "--json"}));
  CHECK(stat["unavailable"] == true);
  CHECK(stat["holders"] == 0);
  RunResult get = c.p2p({"--chunk-timeout-ms", "1500", "get", solo[0].name, "-o", c.path("gone").string()});
  {
    INFO(describe(get));
    CHECK(get.exit_code == 6);
  }
  auto ls = holder_counts(c);
  REQUIRE(ls.has_value());
  CHECK(ls->count(solo[0].name) == 1);

  c.restart_peer(holder);
  REQUIRE(c.wait_for_peers(3, 10s));
  bool available = eventually(
      [&] {
        s = status(c);
        return s["unavailable"] == 0;
      },
      10s, 50ms);
  {
    INFO(s.dump());
    REQUIRE(available);
  }
  stat = parse_json(c.p2p({"stat", solo[0].name, "--json"}));
  CHECK(stat["unavailable"] == false);
  CHECK(stat["holders"] == 1);
  std::vector<TestFile> all = solo;
  all.insert(all.end(), shared.begin(), shared.end());
  auto bad = files_not_identical(c, all, c.path("out"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}
