// Server start and stop: the `listening` line, clean exits on signals, leaving.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>

#include "tests/support/cluster.h"
#include "tests/support/json_output.h"
#include "tests/support/temp_dir.h"

using namespace p2p::test;
using namespace std::chrono_literals;

TEST_CASE("servers print their bound endpoint and not port 0", "[lifecycle]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  CHECK(c.tracker_endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(endpoint_port(c.tracker_endpoint()) > 0);
  CHECK(endpoint_port(c.peer_endpoint(0)) > 0);
  CHECK(c.peer_id(0).size() == 16);
}

// SIGTERM makes a peer drain (docs/replication.md "Leave"): it exits 0 once the
// tracker releases it, at once when it holds nothing.
TEST_CASE("a peer holding no files is released at once on SIGTERM and exits 0 and leaves the peer list",
          "[lifecycle][drain]") {
  Cluster c(ClusterOptions{}.with_peers(2));
  int code = c.stop_peer(1, SIGTERM);  // bounded: SIGKILL and -1 after 10 s
  INFO(c.logs());
  CHECK(code == 0);
  CHECK(c.wait_for_peers(1, 10s));
  auto peers = parse_json(c.p2p({"peers", "--json"}));
  REQUIRE(peers.size() == 1);
  CHECK(peers[0]["endpoint"] == c.peer_endpoint(0));
}

TEST_CASE("a peer whose tracker is gone keeps running and a second SIGTERM makes it exit at once",
          "[lifecycle][drain]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  c.stop_tracker(SIGKILL);
  // Many liveness periods (5 x 100 ms) of silence; it must not exit.
  CHECK_FALSE(c.peer_process(0).wait(3s).has_value());
  // Draining without a tracker waits (it cannot know it is safe) ...
  c.peer_process(0).signal(SIGTERM);
  CHECK_FALSE(c.peer_process(0).wait(1s).has_value());
  // ... until the user insists.
  c.peer_process(0).signal(SIGTERM);
  auto code = c.peer_process(0).wait(5s);
  INFO(c.logs());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("the tracker exits 0 on SIGINT and on SIGTERM", "[lifecycle]") {
  for (int sig : {SIGINT, SIGTERM}) {
    Cluster c(ClusterOptions{}.with_peers(0));
    int code = c.stop_tracker(sig);
    INFO("signal " << sig << "\n" << c.logs());
    CHECK(code == 0);
  }
}

TEST_CASE("a peer refuses a --scrub-rate that is neither 0 nor a size with a usage error", "[lifecycle][scrub]") {
  TempDir dir{"p2p-lifecycle-test"};
  for (const char* rate : {"fast", "-1", "8X"}) {
    RunResult r = run(bin_path("p2p-peer"), {"--data", (dir.path() / "data").string(), "--scrub-rate", rate}, 10s);
    INFO(describe(r));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--scrub-rate") != std::string::npos);
  }
}

TEST_CASE("the tracker serves its peers and clients with one I/O thread or four, and refuses zero with a usage error",
          "[lifecycle]") {
  for (const char* threads : {"1", "4"}) {
    Cluster c(ClusterOptions{}.with_peers(2).with_tracker_args({"--io-threads", threads}));
    INFO("--io-threads " << threads << "\n" << c.logs());
    auto peers = parse_json(c.p2p({"peers", "--json"}));
    CHECK(peers.size() == 2);
  }
  RunResult r = run(bin_path("p2p-tracker"), {"--listen", "tcp://127.0.0.1:0", "--io-threads", "0"}, 10s);
  INFO(describe(r));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--io-threads") != std::string::npos);
}
