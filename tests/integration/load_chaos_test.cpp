// scripts/load-test --chaos: peers killed with -9 and restarted while
// p2p-load runs, and still no failed get and no corrupt byte.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/script_cluster.h"

using namespace p2p::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

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
  RunResult r = sc.script("load-test",
                          {"--chaos", "1.5", "--chaos-down", "0.8", "--clients", "3", "--duration", "5", "--files", "12",
                           "--sizes", "4KiB:8,3MiB:2", "--mix", "get=70,put=10,search=10,locate=10", "--json",
                           json.string()},
                          180s);
  INFO(describe(r));
  INFO(sc.logs());
  CHECK(r.exit_code == 0);

  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("chaos: (\\d+) kills; (\\d+) of (\\d+) peers running")));
  CHECK(std::stoi(m[1]) >= 1);  // 2 as scheduled; 1 if a slow box delays the restart
  CHECK(m[2] == m[3]);
  CHECK(std::stoul(m[3]) == sc.peer_count());

  const nlohmann::json j = nlohmann::json::parse(read_text(json));
  CHECK(j["failed_gets"] == 0);
  CHECK(j["corrupt_bytes"] == 0);
  CHECK(j["ops"]["get"]["count"].get<std::uint64_t>() > 0);
  CHECK(j["ops"]["put"]["errors"] == 0);
  CHECK(j["ok"] == true);
  // --chaos shortens the chunk timeout and keeps hedging on below it.
  CHECK(j["timeouts_ms"]["chunk"] == 1000);
  CHECK(j["timeouts_ms"]["hedge"] == 250);

  // The scrub ran and found nothing wrong: every chunk it dropped would have
  // been a good one.
  std::size_t passes = 0;
  for (std::size_t i = 1; i <= sc.peer_count(); ++i) {
    const std::string log = read_text(sc.run_dir() / ("peer" + std::to_string(i) + ".log"));
    for (std::size_t at = log.find("scrub: pass done"); at != std::string::npos; at = log.find("scrub: pass done", at + 1))
      ++passes;
    INFO("peer" << i << " log");
    CHECK(log.find("store: scrub:") == std::string::npos);       // a chunk dropped
    CHECK(log.find("scrub: chunk") == std::string::npos);        // a chunk not checked
  }
  CHECK(passes > 0);

  // Every peer is running again and registered.
  CHECK(sc.running_peers() == sc.peer_count());
  CHECK(eventually(
      [&] {
        RunResult peers = run(bin_path("p2p"), {"--tracker", sc.tracker_endpoint(), "peers", "--json"}, 10s);
        return peers.exit_code == 0 && nlohmann::json::parse(peers.out).size() == sc.peer_count();
      },
      20s, 200ms));
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
