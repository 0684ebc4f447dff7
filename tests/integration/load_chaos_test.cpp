// scripts/load-test --chaos and --rot: peers killed with -9 and restarted, or
// bits flipped in their chunk files, while p2p-load runs, and still no failed
// get and no corrupt byte.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/script_cluster.h"

using namespace p2p::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The load test's results, checked for no failed get and no corrupt byte.
nlohmann::json load_ok(const RunResult& r, const fs::path& json) {
  CHECK(r.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(read_text(json));
  CHECK(j["failed_gets"] == 0);
  CHECK(j["corrupt_bytes"] == 0);
  CHECK(j["ok"] == true);
  return j;
}

// scripts/load-test's arguments for 5 s of 3 clients on 12 files (small and
// multi-chunk) with every operation, results to `json`, after `chaos`.
std::vector<std::string> mixed_load(std::vector<std::string> chaos, const fs::path& json) {
  chaos.insert(chaos.end(), {"--clients", "3", "--duration", "5", "--files", "12", "--sizes", "4KiB:8,3MiB:2", "--mix",
                             "get=70,put=10,search=10,locate=10", "--json", json.string()});
  return chaos;
}

// How often `text` occurs in the logs of all of the cluster's peers.
std::size_t count_in_peer_logs(const ScriptCluster& sc, const std::string& text) {
  std::size_t n = 0;
  for (std::size_t i = 1; i <= sc.peer_count(); ++i) {
    const std::string log = read_text(sc.run_dir() / ("peer" + std::to_string(i) + ".log"));
    for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a chaos load test kills and restarts peers and ends with zero failed gets and zero corrupt bytes",
          "[load][chaos]") {
  // The scrub runs throughout (a pass every 200 ms, restarts included), so
  // its checks meet puts, gets, removals and kills: it must drop no good chunk.
  ScriptCluster sc(ScriptClusterOptions{}.with_scrub("256M", 200));
  const fs::path json = sc.path("chaos.json");
  // Two kills in 5 s (1.5 s up between them), each peer down 0.8 s: past the
  // tracker's 5 x 100 ms detection window, so puts meet both a dead peer still
  // placed and a cluster one peer short. (Kills much closer together than a
  // put's timeout, 3 hops x 1 s, leave every placement of k = 3 on 3 peers
  // likely to hold a dead one, and puts run out of budget.) Multi-chunk files
  // so gets have chunks in flight on the killed holder.
  RunResult r = sc.script("load-test", mixed_load({"--chaos", "1.5", "--chaos-down", "0.8"}, json), 180s);
  INFO(describe(r));
  INFO(sc.logs());
  const nlohmann::json j = load_ok(r, json);

  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("chaos: (\\d+) kills; (\\d+) of (\\d+) peers running")));
  CHECK(std::stoi(m[1]) >= 1);  // 2 as scheduled; 1 if a slow box delays the restart
  CHECK(m[2] == m[3]);
  CHECK(std::stoul(m[3]) == sc.peer_count());

  CHECK(j["ops"]["get"]["count"].get<std::uint64_t>() > 0);
  CHECK(j["ops"]["put"]["errors"] == 0);
  // --chaos shortens the chunk timeout and keeps hedging on below it.
  CHECK(j["timeouts_ms"]["chunk"] == 1000);
  CHECK(j["timeouts_ms"]["hedge"] == 250);

  // The scrub ran and found nothing wrong: every chunk it dropped would have
  // been a good one.
  CHECK(count_in_peer_logs(sc, "scrub: pass done") > 0);
  CHECK(count_in_peer_logs(sc, "store: scrub:") == 0);  // a chunk dropped
  CHECK(count_in_peer_logs(sc, "scrub: chunk") == 0);   // a chunk not checked

  // Every peer is running again and registered.
  CHECK(sc.running_peers() == sc.peer_count());
  CHECK(eventually(
      [&] {
        RunResult peers = run(bin_path("p2p"), {"--tracker", sc.tracker_endpoint(), "peers", "--json"}, 10s);
        return peers.exit_code == 0 && nlohmann::json::parse(peers.out).size() == sc.peer_count();
      },
      20s, 200ms));
}

TEST_CASE("a load test that kills and restarts the tracker ends with zero failed gets and zero corrupt bytes, and "
          "the new tracker knows every file",
          "[load][chaos][tracker]") {
  ScriptCluster sc(ScriptClusterOptions{});
  const fs::path json = sc.path("tracker-chaos.json");
  // Three restarts in 5 s: each new tracker starts with an empty index, which
  // the peers fill again (heartbeat 100 ms) while the load asks for names.
  RunResult r = sc.script("load-test", mixed_load({"--chaos-tracker", "1.5"}, json), 180s);
  INFO(describe(r));
  INFO(sc.logs());
  const nlohmann::json j = load_ok(r, json);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("chaos: (\\d+) tracker restarts; tracker running")));
  CHECK(std::stoi(m[1]) >= 1);  // 3 as scheduled; fewer if a slow box delays them
  CHECK(j["ops"]["get"]["count"].get<std::uint64_t>() > 0);
  CHECK(j["ops"]["put"]["errors"] == 0);

  // The last tracker learnt every file from the peers: the seeded ones and
  // every put that succeeded, on all the peers, each at k, and says its index
  // is complete (so the counts are final).
  const std::size_t files = 12 + j["ops"]["put"]["count"].get<std::size_t>();
  nlohmann::json status;
  const bool known = eventually(
      [&] {
        RunResult st = run(bin_path("p2p"), {"--tracker", sc.tracker_endpoint(), "status", "--json"}, 10s);
        if (st.exit_code != 0) return false;
        status = nlohmann::json::parse(st.out);
        return status["index_complete"] == true && status["files"] == files && status["peers"] == sc.peer_count() &&
               status["under_replicated"] == 0;
      },
      20s, 200ms);
  INFO(status.dump());
  CHECK(known);
}

TEST_CASE("a load test with bits flipped in the holders' chunk files ends with zero failed gets and zero corrupt bytes, "
          "and the holders drop the chunks the gets met",
          "[load][rot]") {
  // The scrub at its defaults (its first pass a day away): only the gets'
  // reports (CHECK_CHUNK) find the flipped chunks while the load runs.
  ScriptCluster sc(ScriptClusterOptions{});
  const fs::path json = sc.path("rot.json");
  // 30 one-chunk files at k=3 (90 chunk files) and a flip every 0.25 s: each
  // file is got ~every 0.1 s, so a flipped chunk is met, dropped and copied
  // back long before the same file's other two copies could both rot too.
  RunResult r = sc.script("load-test", {"--rot", "0.25", "--clients", "3", "--duration", "5", "--files", "30", "--sizes",
                                        "256KiB:1", "--mix", "get=100", "--json", json.string()},
                          120s);
  INFO(describe(r));
  INFO(sc.logs());
  (void)load_ok(r, json);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("rot: (\\d+) bits flipped")));
  CHECK(std::stoi(m[1]) >= 5);

  // Every chunk a get reported was wrong on disk and dropped; none was good.
  CHECK(count_in_peer_logs(sc, "does not match its hash on disk; dropped") >= 1);
  CHECK(count_in_peer_logs(sc, "matches its hash on disk; its cached pages were dropped") == 0);
  CHECK(read_text(sc.run_dir() / "tracker.log").find("removed file=") != std::string::npos);
}

TEST_CASE("scripts/cluster restart starts a killed peer again on its data dir", "[load][chaos]") {
  ScriptCluster sc(ScriptClusterOptions{}.with_peers(1));
  const std::string id = read_text(sc.run_dir() / "peer1" / "peer_id");
  RunResult killed = sc.script("cluster", {"restart", "1"}, 60s);  // running: SIGKILLed first
  INFO(describe(killed));
  REQUIRE(killed.exit_code == 0);
  CHECK(sc.running_peers() == 1);
  CHECK(read_text(sc.run_dir() / "peer1" / "peer_id") == id);  // same data dir, same peer
  CHECK(eventually(
      [&] {
        RunResult peers = run(bin_path("p2p"), {"--tracker", sc.tracker_endpoint(), "peers", "--json"}, 10s);
        return peers.exit_code == 0 && peers.out.find(id.substr(0, 16)) != std::string::npos;
      },
      20s, 200ms));
  RunResult unknown = sc.script("cluster", {"restart", "7"}, 60s);
  CHECK(unknown.exit_code != 0);
}

TEST_CASE("scripts/cluster restarts a peer while the tracker is down, and the tracker on its endpoint, and the peer "
          "joins it",
          "[load][chaos][tracker]") {
  ScriptCluster sc(ScriptClusterOptions{}.with_peers(1));
  const int tracker_pid = std::stoi(read_text(sc.run_dir() / "tracker.pid"));
  REQUIRE(::kill(tracker_pid, SIGKILL) == 0);
  RunResult peer = sc.script("cluster", {"restart", "1"}, 60s);  // as --chaos may, mid --chaos-tracker
  INFO(describe(peer));
  CHECK(peer.exit_code == 0);
  CHECK(sc.running_peers() == 1);
  RunResult tracker = sc.script("cluster", {"restart", "tracker"}, 60s);
  INFO(describe(tracker));
  REQUIRE(tracker.exit_code == 0);
  CHECK(std::stoi(read_text(sc.run_dir() / "tracker.pid")) != tracker_pid);
  CHECK(eventually(
      [&] {
        RunResult peers = run(bin_path("p2p"), {"--tracker", sc.tracker_endpoint(), "peers", "--json"}, 10s);
        return peers.exit_code == 0 && nlohmann::json::parse(peers.out).size() == 1;
      },
      20s, 200ms));
}

TEST_CASE("a cluster scripts/cluster starts answers ls at once, and a tracker it restarts gives the running peers its "
          "rejoin window",
          "[load][tracker]") {
  ScriptCluster sc(ScriptClusterOptions{}.with_peers(1));
  // Every peer was started and waited for by the script: no rejoin window.
  RunResult ls = run(bin_path("p2p"), {"--tracker", sc.tracker_endpoint(), "ls"}, 10s);
  INFO(describe(ls));
  CHECK(ls.exit_code == 0);
  CHECK(ls.err.find("asking the tracker again") == std::string::npos);
  const fs::path log = sc.run_dir() / "tracker.log";
  CHECK(read_text(log).find("rejoin-window=0ms") != std::string::npos);

  // Restarted under running peers, the tracker waits for them: one liveness
  // window (the script cluster's 5 x 100 ms).
  RunResult restarted = sc.script("cluster", {"restart", "tracker"}, 60s);
  INFO(describe(restarted));
  REQUIRE(restarted.exit_code == 0);
  CHECK(read_text(log).find("rejoin-window=500ms") != std::string::npos);
}
