// p2p-load, the load generator, against real clusters: what it reports when
// everything works, and that it fails loudly when an operation fails.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/json_output.h"
#include "tests/support/process.h"
#include "tests/support/script_cluster.h"

using namespace p2p::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

RunResult load(const std::string& tracker, const std::vector<std::string>& args) {
  std::vector<std::string> full = {"--tracker", tracker};
  full.insert(full.end(), args.begin(), args.end());
  return run(bin_path("p2p-load"), full, 120s);
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_text(p)); }

}  // namespace

TEST_CASE("p2p-load --each-once gets every seeded file once per client with zero errors", "[load]") {
  Cluster c;
  const fs::path json = c.path("load.json");
  // Small files plus multi-chunk ones (default chunk 1 MiB), so gets use several holders.
  RunResult r = load(c.tracker_endpoint(), {"--clients", "2", "--files", "6", "--sizes", "4KiB:2,3MiB:1", "--each-once",
                                            "--json", json.string()});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("OK") != std::string::npos);
  const nlohmann::json j = read_json(json);
  CHECK(j["ok"] == true);
  CHECK(j["clients"] == 2);
  CHECK(j["files"] == 6);
  CHECK(j["ops"]["get"]["count"] == 12);
  CHECK(j["ops"]["get"]["errors"] == 0);
  CHECK(j["failed_gets"] == 0);
  CHECK(j["corrupt_bytes"] == 0);
  CHECK(j["ops"]["put"]["count"] == 0);  // --each-once only gets
  CHECK(j["ops"]["get"]["mb_per_s"].get<double>() > 0);
  // The seeded files really are in the cluster.
  CHECK(parse_json(c.p2p({"ls", "--json"})).size() == 6);
}

TEST_CASE("a timed p2p-load mix runs every operation and reports each", "[load]") {
  Cluster c;
  const fs::path json = c.path("load.json");
  RunResult r = load(c.tracker_endpoint(), {"--clients", "2", "--files", "4", "--sizes", "4KiB:1", "--duration", "1.5",
                                            "--mix", "get=40,put=20,search=20,locate=20", "--json", json.string()});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = read_json(json);
  CHECK(j["ok"] == true);
  CHECK(j["duration_s"].get<double>() >= 1.5);
  for (const char* op : {"get", "put", "search", "locate"}) {
    INFO(op);
    CHECK(j["ops"][op]["count"].get<std::uint64_t>() > 0);
    CHECK(j["ops"][op]["errors"] == 0);
    CHECK(j["ops"][op]["p50_ms"].get<double>() > 0);
    CHECK(j["ops"][op]["max_ms"].get<double>() >= j["ops"][op]["p99_ms"].get<double>());
  }
  // Every put of the run is a new file beside the seeded ones.
  const auto puts = j["ops"]["put"]["count"].get<std::size_t>();
  CHECK(parse_json(c.p2p({"ls", "--json"})).size() == 4 + puts);
  // The table names every operation.
  for (const char* op : {"get ", "put ", "search ", "locate "}) CHECK(r.out.find(op) != std::string::npos);
}

TEST_CASE("concurrent puts whose pipelines cross the same peers all succeed without a retry", "[load]") {
  // One worker a peer and k=3: six clients' pipelines start at every peer and
  // pass through the others, so a worker that waited for its next peer would
  // leave none to serve the peers waiting on it (until forward-timeout).
  Cluster c(ClusterOptions{}.with_peer_args({"--workers", "1", "--forward-timeout-ms", "2000"}));
  const fs::path json = c.path("load.json");
  RunResult r = load(c.tracker_endpoint(), {"--clients", "6", "--files", "0", "--sizes", "4KiB:1", "--duration", "1.5",
                                            "--mix", "put=1", "--retry-ms", "0", "--json", json.string()});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = read_json(json);
  CHECK(j["ok"] == true);
  CHECK(j["ops"]["put"]["count"].get<std::uint64_t>() >= 6);
  CHECK(j["ops"]["put"]["errors"] == 0);
  CHECK(j["ops"]["put"]["retries"] == 0);
}

TEST_CASE("p2p-load exits non-zero when the tracker is unreachable", "[load]") {
  // Nothing listens on a port the OS just handed out and took back.
  TempDir dir("p2p-load");
  std::string nowhere;
  {
    Process probe(bin_path("p2p-tracker"), {"--listen", "tcp://127.0.0.1:0"}, dir / "probe.log");
    nowhere = probe.read_listening(15s).value_or("tcp://127.0.0.1:1");
  }
  RunResult r = load(nowhere, {"--files", "2", "--timeout-ms", "200", "--retry-ms", "0", "--duration", "1"});
  INFO(describe(r));
  CHECK(r.exit_code == kExitFailed);
  CHECK(r.err.find("seeding") != std::string::npos);
  CHECK(r.seconds < 30);
}

TEST_CASE("p2p-load exits non-zero and counts failed gets when every holder dies mid-run", "[load]") {
  Cluster c(ClusterOptions{}.with_peers(2));
  const fs::path json = c.path("load.json");
  Process p(bin_path("p2p-load"),
            {"--tracker", c.tracker_endpoint(), "--clients", "2", "--files", "4", "--sizes", "4KiB:1", "--mix", "get=1",
             "--duration", "2", "--retry-ms", "300", "--chunk-timeout-ms", "300", "--json", json.string()},
            c.path("load.log"));
  REQUIRE(eventually([&] { return p.log_tail().find("measuring") != std::string::npos || !p.running(); }, 60s));
  c.stop_peer(0, SIGKILL);
  c.stop_peer(1, SIGKILL);
  const auto code = p.wait(120s);
  INFO(p.log_tail());
  REQUIRE(code.has_value());
  CHECK(*code == kExitFailed);
  const nlohmann::json j = read_json(json);
  CHECK(j["ok"] == false);
  CHECK(j["failed_gets"].get<std::uint64_t>() > 0);
  CHECK(j["ops"]["get"]["retries"].get<std::uint64_t>() > 0);  // each failed get was retried first
  CHECK(j["corrupt_bytes"] == 0);  // failed, not corrupt
}

TEST_CASE("p2p-load rejects an unknown operation or a bad size with a usage error", "[load]") {
  RunResult mix = load("tcp://127.0.0.1:1", {"--mix", "get=1,delete=1"});
  CHECK(mix.exit_code == kExitUsage);
  CHECK(mix.err.find("delete") != std::string::npos);
  RunResult sizes = load("tcp://127.0.0.1:1", {"--sizes", "4XB:1"});
  CHECK(sizes.exit_code == kExitUsage);
  CHECK(sizes.err.find("--sizes") != std::string::npos);
}

TEST_CASE("scripts/load-test says to run make build when p2p-load is missing", "[load]") {
  TempDir dir("p2p-load");
  RunResult r = run("/usr/bin/env", {"BUILD_DIR=" + (dir / "no-build").string(), "RUN_DIR=" + (dir / "run").string(),
                                     (source_dir() / "scripts" / "load-test").string()});
  INFO(describe(r));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("make build") != std::string::npos);
}

TEST_CASE("scripts/load-test without a cluster says to start one", "[load]") {
  TempDir dir("p2p-load");
  RunResult r = run("/usr/bin/env", {"-u", "P2P_TRACKER", "BUILD_DIR=" + build_dir().string(),
                                     "RUN_DIR=" + (dir / "run").string(),
                                     (source_dir() / "scripts" / "load-test").string()});
  INFO(describe(r));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("make cluster") != std::string::npos);
}

TEST_CASE("scripts/load-test runs p2p-load against the cluster in RUN_DIR and exits with its status", "[load]") {
  ScriptCluster sc(ScriptClusterOptions{});
  const fs::path json = sc.path("load.json");
  RunResult ok = sc.script("load-test", {"--clients", "2", "--files", "3", "--sizes", "4KiB:1", "--each-once", "--json",
                                         json.string()},
                           120s);
  INFO(describe(ok));
  REQUIRE(ok.exit_code == 0);
  CHECK(read_json(json)["ops"]["get"]["count"] == 6);
  // A usage error of p2p-load comes back as its exit status.
  RunResult bad = sc.script("load-test", {"--mix", "nope=1"}, 60s);
  CHECK(bad.exit_code == kExitUsage);
}

TEST_CASE("p2p-load refuses flags it cannot honour before it starts", "[load]") {
  // No cluster is needed: each is refused before the first request.
  TempDir dir("p2p-load");
  const std::string tracker = "tcp://127.0.0.1:1";
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--files", "0", "--mix", "search=1,locate=1"},  // nothing to search for, ever
        std::vector<std::string>{"--duration", "1e300"},
        std::vector<std::string>{"--log-level", "bogus"},
        std::vector<std::string>{"--timeout-ms", "10000000000000"},
        std::vector<std::string>{"--json", (dir / "no-such-dir" / "out.json").string()}}) {
    RunResult r = load(tracker, args);
    INFO(describe(r));
    CHECK(r.exit_code == kExitUsage);
    CHECK(r.seconds < 10);
  }
}
