// Gets that survive holders dying, lying or restarting, and a tracker restart;
// puts that survive a dead peer in their pipeline.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/json_output.h"
#include "tests/support/random_file.h"

using namespace p2p::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;

// A short chunk timeout so a dead holder costs ~1 s, not the default 10 s.
const std::string kChunkTimeout = "--chunk-timeout-ms";
const std::string kChunkTimeoutMs = "1500";

void put(const Cluster& c, const fs::path& src, const std::string& name, const std::string& replicas = "3") {
  RunResult r = c.p2p({"put", src.string(), "--name", name, "--replicas", replicas});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
}

// How many times `word` occurs in `text`.
std::size_t count_of(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + word.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("a get completes byte-identical when a holder is killed with SIGKILL mid-transfer", "[failover]") {
  Cluster c;
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 64 * kMiB + 1, 30);
  put(c, src, "big.bin");

  Process get = c.p2p_background({kChunkTimeout, kChunkTimeoutMs, "get", "big.bin", "-o", out.string()}, "get.log");
  // Kill as soon as the transfer has begun (the .part file exists).
  fs::path part = out.string() + ".part";
  CHECK(eventually([&] { return fs::exists(part) || fs::exists(out) || !get.running(); }, 30s, 1ms));
  c.stop_peer(0, SIGKILL);

  auto code = get.wait(120s);
  INFO(get.log_tail());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(same_content(src, out));
}

TEST_CASE("a get fails over from a dead holder that the tracker still lists as live", "[failover]") {
  // Liveness 50 x 100 ms: the tracker keeps listing the killed peer for ~5 s,
  // so the client is certain to be sent to it and must move its chunks on.
  Cluster c(ClusterOptions{}.with_liveness(50));
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 16 * kMiB + 1, 31);
  put(c, src, "f.bin");
  c.stop_peer(0, SIGKILL);

  RunResult get = c.p2p({kChunkTimeout, kChunkTimeoutMs, "get", "f.bin", "-o", out.string()}, 120s);
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  CHECK(same_content(src, out));
}

TEST_CASE("a get finishes long before the chunk timeout when holders hang with their connections open",
          "[failover]") {
  // 100 x 300 ms: the tracker keeps listing the frozen peers for ~30 s.
  // SIGSTOP freezes a peer whole: its kernel still accepts connections, but it
  // answers nothing and closes nothing, as a holder stuck on a dead disk would.
  ClusterOptions options = ClusterOptions{}.with_liveness(100);
  options.heartbeat_ms = 300;
  Cluster c(options);
  fs::path big = c.path("big"), small = c.path("small");
  write_random_file(big, 16 * kMiB + 1, 32);
  write_random_file(small, 1024, 33);
  put(c, big, "big.bin");
  put(c, small, "small.bin");
  REQUIRE(c.peer_process(0).signal(SIGSTOP));
  REQUIRE(c.peer_process(1).signal(SIGSTOP));

  for (const std::string name : {"big", "small"}) {
    const fs::path out = c.path(name + ".out");
    const auto start = std::chrono::steady_clock::now();
    RunResult get = c.p2p({kChunkTimeout, "60000", "get", name + ".bin", "-o", out.string()}, 120s);
    INFO(describe(get));
    REQUIRE(get.exit_code == 0);
    CHECK(same_content(c.path(name), out));
    // Without asking the live holder too, the frozen ones' chunks wait out the 60 s chunk timeout.
    CHECK(std::chrono::steady_clock::now() - start < 30s);
  }
}

TEST_CASE("a hung holder's chunk waits the get's --hedge-ms before another holder is asked, and at the chunk "
          "timeout is never asked elsewhere",
          "[failover]") {
  ClusterOptions options = ClusterOptions{}.with_liveness(100);  // the frozen peers stay listed for ~30 s
  options.heartbeat_ms = 300;
  Cluster c(options);
  const fs::path src = c.path("src");
  write_random_file(src, 16 * kMiB + 1, 34);
  put(c, src, "f.bin");
  REQUIRE(c.peer_process(0).signal(SIGSTOP));
  REQUIRE(c.peer_process(1).signal(SIGSTOP));

  const auto timed_get = [&](const std::string& chunk_timeout_ms, const std::string& hedge_ms, const std::string& out) {
    const auto start = std::chrono::steady_clock::now();
    RunResult get = c.p2p({kChunkTimeout, chunk_timeout_ms, "--hedge-ms", hedge_ms, "get", "f.bin", "-o",
                           c.path(out).string()},
                          120s);
    INFO(describe(get));
    REQUIRE(get.exit_code == 0);
    CHECK(same_content(src, c.path(out)));
    return std::chrono::steady_clock::now() - start;
  };
  // The frozen holders' chunks are asked of the live one after 4 s: not
  // sooner (the default is 1 s), and not after the 20 s chunk timeout.
  const auto hedged = timed_get("20000", "4000", "hedged.out");
  CHECK(hedged >= 4s);
  CHECK(hedged < 20s);
  // Hedging at the chunk timeout is none: the frozen holders are waited out.
  CHECK(timed_get("3000", "3000", "unhedged.out") >= 3s);
}

TEST_CASE("a get whose every listed holder is gone asks the tracker again and gets the file from the holder "
          "restarted elsewhere",
          "[failover]") {
  // One peer, k=1. Liveness 50 x 100 ms: the tracker keeps listing the killed
  // peer at its old endpoint for ~5 s, so the get is sent there first.
  Cluster c(ClusterOptions{}.with_peers(1).with_liveness(50));
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 3 * kMiB + 5, 43);
  put(c, src, "f.bin", "1");
  c.stop_peer(0, SIGKILL);

  RunResult once = c.p2p({kChunkTimeout, kChunkTimeoutMs, "get", "f.bin", "-o", out.string(), "--retry-ms", "0"});
  INFO(describe(once));
  REQUIRE(once.exit_code == 6);  // the holder the tracker names is gone
  CHECK(once.err.find("asking the tracker again") == std::string::npos);

  Process get = c.p2p_background({kChunkTimeout, kChunkTimeoutMs, "get", "f.bin", "-o", out.string()}, "get.log");
  // Its first attempt has failed against the old endpoint: only now does the
  // peer come back, on a new port, with its data.
  REQUIRE(eventually([&] { return read_text(get.log_path()).find("asking the tracker again") != std::string::npos; },
                     30s));
  c.restart_peer_elsewhere(0);
  std::optional<int> code = get.wait(60s);
  INFO(read_text(get.log_path()));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(same_content(src, out));
}

namespace {

// Peer 1 is killed (SIGKILL) or frozen (SIGSTOP: a hung peer, whose
// connections stay open and whose requests go unanswered) while the tracker
// keeps listing it for ~30 s (100 x 300 ms). Placement ranks peers by name, so
// every PLACE at k=3 puts it in the pipeline again: the first attempt fails,
// and the retry must be placed around it, not wait for the tracker to notice.
void put_around_a_failed_peer(int sig) {
  ClusterOptions options = ClusterOptions{}.with_liveness(100).with_peer_args({"--forward-timeout-ms", "1000"});
  options.heartbeat_ms = 300;
  Cluster c(options);
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 4 * kMiB + 1, 32);
  if (sig == SIGKILL)
    c.stop_peer(1, SIGKILL);
  else
    REQUIRE(c.peer_process(1).signal(sig));

  RunResult once = c.p2p({kChunkTimeout, "1000", "put", src.string(), "--name", "once.bin", "--retry-ms", "0"}, 60s);
  INFO(describe(once));
  CHECK(once.exit_code != 0);  // no retry: the failed peer fails it

  RunResult put = c.p2p({kChunkTimeout, "1000", "put", src.string(), "--name", "f.bin", "--retry-ms", "60000"}, 120s);
  INFO(describe(put));
  REQUIRE(put.exit_code == 0);
  CHECK(put.err.find("trying again without peer " + c.peer_id(1)) != std::string::npos);
  CHECK(put.err.find("on 2 of 3 wanted peers") != std::string::npos);
  // Placed around the failed peer while the tracker still lists it.
  CHECK(c.live_peers() == std::optional<std::size_t>(3));
  RunResult get = c.p2p({"get", "f.bin", "-o", out.string()}, 60s);
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  CHECK(same_content(src, out));
}

}  // namespace

TEST_CASE("a put retried after a peer died is placed around it while the tracker still lists it", "[failover][put]") {
  put_around_a_failed_peer(SIGKILL);
}

TEST_CASE("a put retried after a peer hung is placed around it while the tracker still lists it", "[failover][put]") {
  put_around_a_failed_peer(SIGSTOP);
}

TEST_CASE("a corrupted chunk file on one holder is rejected and fetched from another holder", "[failover][integrity]") {
  Cluster c;
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 16 * kMiB + 1, 32);
  put(c, src, "f.bin");

  // Overwrite every chunk file on peer 0 in place (same size, wrong bytes), so
  // whatever chunks the client asks it for come back corrupt.
  int corrupted = 0;
  for (const auto& e : fs::recursive_directory_iterator(c.peer_data(0) / "chunks")) {
    if (!e.is_regular_file()) continue;
    overwrite_random(e.path(), 0, fs::file_size(e.path()), 33 + corrupted);
    ++corrupted;
  }
  REQUIRE(corrupted == 17);

  RunResult get = c.p2p({kChunkTimeout, kChunkTimeoutMs, "get", "f.bin", "-o", out.string()}, 120s);
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  CHECK(same_content(src, out));
}

TEST_CASE("after the tracker is killed and restarted on the same port get works again unaided", "[failover][tracker]") {
  Cluster c;
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 4 * kMiB + 9, 34);
  put(c, src, "f.bin");

  c.stop_tracker(SIGKILL);
  c.restart_tracker();
  // Peers notice the silence (or the DISCONNECT), send READY again and re-announce.
  RunResult last;
  bool ok = eventually(
      [&] {
        last = c.p2p({"get", "f.bin", "-o", out.string(), "--force"}, 30s);
        return last.exit_code == 0;
      },
      30s, 200ms);
  INFO(describe(last));
  REQUIRE(ok);
  CHECK(same_content(src, out));
  CHECK(c.wait_for_peers(3));
  for (std::size_t i = 0; i < c.peer_count(); ++i) CHECK(c.peer_process(i).running());
}

TEST_CASE("a get, stat, ls or search started right after the tracker restarts waits for the holders to re-announce "
          "and succeeds; out of retries it exits 6",
          "[failover][tracker]") {
  // The peers are stopped while the tracker restarts, so every command surely
  // asks before any of them has rejoined. The rejoin window outlasts that
  // phase (a few hundred ms), and every command that waits for the complete
  // index waits it out, so it is kept short.
  Cluster c(ClusterOptions{}.with_tracker_args({"--rejoin-window-ms", "6000"}));
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 2 * kMiB + 5, 35);
  put(c, src, "f.bin");
  put(c, src, "beta.bin");

  for (std::size_t i = 0; i < c.peer_count(); ++i) REQUIRE(c.peer_process(i).signal(SIGSTOP));
  c.stop_tracker(SIGKILL);
  c.restart_tracker();

  // Out of retries inside the window: a name still unknown is "try again"
  // (6), not "no such file" (4), and an empty list is not final.
  RunResult unknown = c.p2p({"get", "nosuch.bin", "-o", c.path("nosuch").string(), "--retry-ms", "300"});
  INFO(describe(unknown));
  CHECK(unknown.exit_code == 6);
  CHECK(unknown.err.find("announcing") != std::string::npos);
  RunResult early = c.p2p({"ls", "--retry-ms", "200"});
  INFO(describe(early));
  CHECK(early.exit_code == 6);
  CHECK(early.out.find("f.bin") == std::string::npos);
  CHECK(early.err.find("may be incomplete") != std::string::npos);
  // The rejoin window outlasts the budget: no second attempt, so no word of one.
  CHECK(early.err.find("asking the tracker again") == std::string::npos);
  RunResult once = c.p2p({"stat", "f.bin", "--retry-ms", "0"});
  INFO(describe(once));
  CHECK(once.exit_code == 6);
  CHECK(once.err.find("asking the tracker again") == std::string::npos);
  nlohmann::json status = parse_json(c.p2p({"status", "--json"}));
  INFO(status.dump());
  CHECK(status["index_complete"] == false);
  CHECK(status["rejoin_left_ms"].get<std::uint64_t>() > 0);
  CHECK(status["departed_holdings"] == 0);  // no peer has left this tracker

  // Each asks, hears that the index is not complete yet, and asks again.
  Process get = c.p2p_background({"get", "f.bin", "-o", out.string(), "--retry-ms", "30000"}, "get.log");
  Process stat = c.p2p_background({"stat", "f.bin", "--retry-ms", "30000"}, "stat.log");
  Process ls = c.p2p_background({"ls", "--json", "--retry-ms", "30000"}, "ls.log");
  Process search = c.p2p_background({"search", "beta", "--retry-ms", "30000"}, "search.log");
  const fs::path log = c.path("get.log"), stat_log = c.path("stat.log"), ls_log = c.path("ls.log"),
                 search_log = c.path("search.log");
  const bool asked_again = eventually(
      [&] {
        return read_text(log).find("ask again); asking the tracker again") != std::string::npos &&
               read_text(stat_log).find("ask again; asking the tracker again") != std::string::npos &&
               read_text(ls_log).find("asking the tracker again") != std::string::npos &&
               read_text(search_log).find("asking the tracker again") != std::string::npos;
      },
      20s, 50ms);
  for (std::size_t i = 0; i < c.peer_count(); ++i) REQUIRE(c.peer_process(i).signal(SIGCONT));
  INFO(read_text(log));
  INFO(read_text(stat_log));
  INFO(read_text(ls_log));
  INFO(read_text(search_log));
  INFO(c.logs());
  CHECK(asked_again);
  CHECK(get.wait(60s) == std::optional<int>(0));
  CHECK(same_content(src, out));
  const std::string stated = stat.read_stdout(60s).value_or(""), listed = ls.read_stdout(60s).value_or(""),
                    found = search.read_stdout(60s).value_or("");
  INFO(stated);
  INFO(listed);
  INFO(found);
  CHECK(stat.wait(10s) == std::optional<int>(0));
  CHECK(stated.find("3 live") != std::string::npos);
  REQUIRE(ls.wait(10s) == std::optional<int>(0));
  REQUIRE(search.wait(10s) == std::optional<int>(0));
  CHECK(listed.find("\"f.bin\"") != std::string::npos);
  CHECK(listed.find("\"beta.bin\"") != std::string::npos);
  CHECK(found.find("beta.bin") != std::string::npos);
  CHECK(found.find("f.bin") == std::string::npos);
  nlohmann::json settled = parse_json(c.p2p({"status", "--json"}));
  INFO(settled.dump());
  CHECK(settled["index_complete"] == true);
  CHECK(settled["files"] == 2);
}

TEST_CASE("a tracker paused for longer than its expiry window declares none of the heartbeating peers dead",
          "[failover][tracker]") {
  // The tracker counts a service dead after 5 x 100 ms of silence; the peers
  // wait 50 x 100 ms for the tracker, so they keep their connections through
  // each pause. SIGSTOP freezes the whole tracker, libzmq's I/O thread too:
  // the heartbeats the peers send meanwhile are still in the kernel when the
  // tracker's first read after SIGCONT finds its socket empty.
  constexpr auto kPause = 1500ms;  // 3 expiry windows, under the peers' 5 s
  Cluster c(ClusterOptions{}.with_peer_liveness(50));
  fs::path src = c.path("src");
  write_random_file(src, 64 * 1024, 41);
  put(c, src, "f.bin");

  for (int pause = 1; pause <= 3; ++pause) {
    INFO("pause " << pause);
    REQUIRE(c.tracker_process().signal(SIGSTOP));
    std::this_thread::sleep_for(kPause);  // the stall under test, not synchronisation
    REQUIRE(c.tracker_process().signal(SIGCONT));
    // Sent after the pause, so answered after the tracker's first reads.
    nlohmann::json stat = parse_json(c.p2p({"stat", "f.bin", "--json"}));
    INFO(stat.dump());
    CHECK(stat["holders"] == 3);
  }
  const std::string log = read_text(c.tracker_log());
  INFO(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  CHECK(log.find(" death ") == std::string::npos);
  CHECK(log.find("reconnected") == std::string::npos);
  CHECK(c.wait_for_peers(3));
}

TEST_CASE("peers that reconnect to a paused tracker keep their files located and lose none",
          "[failover][tracker]") {
  // The peers give up on the silent tracker after 3 x 100 ms and reconnect
  // while it is still stopped; their READYs carry the same incarnation, so
  // the tracker knows them as the same processes with the same files.
  constexpr auto kPause = 1500ms;  // 5 of the peers' windows: each reconnects during it
  Cluster c(ClusterOptions{}.with_peer_liveness(3));
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 64 * 1024, 42);
  put(c, src, "f.bin");

  REQUIRE(c.tracker_process().signal(SIGSTOP));
  std::this_thread::sleep_for(kPause);  // the stall under test, not synchronisation
  REQUIRE(c.tracker_process().signal(SIGCONT));

  // Each storage service joined once at the start and once more after the pause.
  std::string log;
  bool rejoined = eventually(
      [&] {
        log = read_text(c.tracker_log());
        return count_of(log, "service=storage endpoint=") >= 6;
      },
      10s, 50ms);
  INFO(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  REQUIRE(rejoined);
  nlohmann::json stat = parse_json(c.p2p({"stat", "f.bin", "--json"}));
  INFO(stat.dump());
  CHECK(stat["holders"] == 3);
  CHECK(count_of(log, "storage reconnected (same process)") >= 3);
  CHECK(log.find("lost a holder") == std::string::npos);  // no loss, so no repair was due
  RunResult get = c.p2p({kChunkTimeout, kChunkTimeoutMs, "get", "f.bin", "-o", out.string()}, 30s);
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  CHECK(same_content(src, out));
}

TEST_CASE("a peer killed and restarted on the same data dir serves its files again", "[failover][peer]") {
  Cluster c;
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 3 * kMiB + 1, 35);
  put(c, src, "solo.bin", "1");
  auto stat = parse_json(c.p2p({"stat", "solo.bin", "--json"}));
  REQUIRE(stat["holder_peers"].size() == 1);
  auto holder = c.peer_index(stat["holder_peers"][0]["endpoint"].get<std::string>());
  REQUIRE(holder.has_value());
  const std::string id_before = c.peer_id(*holder);

  c.stop_peer(*holder, SIGKILL);
  RunResult last;
  bool unavailable = eventually(
      [&] {
        // --retry-ms 0: exit 6 at the first failure rather than ask the
        // tracker again for 10 s (the default), which only finds the same
        // dead holder.
        last = c.p2p({kChunkTimeout, kChunkTimeoutMs, "get", "solo.bin", "-o", out.string(), "--force", "--retry-ms", "0"},
                     30s);
        return last.exit_code == 6;  // unavailable: its only holder is gone
      },
      20s, 200ms);
  {
    INFO(describe(last));
    CHECK(unavailable);
  }

  c.restart_peer(*holder);
  CHECK(c.peer_id(*holder) == id_before);
  bool ok = eventually(
      [&] {
        last = c.p2p({kChunkTimeout, kChunkTimeoutMs, "get", "solo.bin", "-o", out.string(), "--force"}, 30s);
        return last.exit_code == 0;
      },
      30s, 200ms);
  INFO(describe(last));
  REQUIRE(ok);
  CHECK(same_content(src, out));
}
