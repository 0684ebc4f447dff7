// Repair (docs/replication.md "Repair"): files that lost holders to SIGKILL are
// copied back to k holders after the repair grace, with at most
// --max-copies copies at once per peer, and through a tracker restart.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/file_bytes.h"
#include "tests/support/json_output.h"
#include "tests/support/random_file.h"
#include "tests/support/replicated_files.h"

using namespace p2p::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0ms : left;
}

// Sum of the copies every peer log reports, as "N copies, B bytes at X MB/s".
std::string copy_throughput(const Cluster& c) {
  PeerCopyLog total;
  for (std::size_t i = 0; i < c.peer_count(); ++i) {
    PeerCopyLog one = read_peer_copy_log(c.peer_log(i));
    total.done += one.done;
    total.fetched_bytes += one.fetched_bytes;
    total.copy_seconds += one.copy_seconds;
  }
  char text[160];
  std::snprintf(text, sizeof text, "%d copies, %.1f MiB fetched, %.1f MB/s per copy stream", total.done,
                static_cast<double>(total.fetched_bytes) / kMiB,
                total.copy_seconds > 0 ? static_cast<double>(total.fetched_bytes) / 1e6 / total.copy_seconds : 0.0);
  return text;
}

// One file of `size` bytes put at `replicas` and the cluster indexes of its
// holders (as many as `replicas`, or the case fails).
struct HeldFile {
  std::vector<TestFile> files;  // the one file, as put_files and friends take it
  std::vector<std::size_t> holders;
};
HeldFile put_one_file(const Cluster& c, std::string_view prefix, std::uint64_t size, unsigned seed, unsigned replicas) {
  HeldFile held{write_files(c, prefix, {size}, seed), {}};
  put_files(c, held.files, replicas);
  for (const auto& id : holder_ids(c, held.files[0].name)) held.holders.push_back(c.peer_index(id).value());
  REQUIRE(held.holders.size() == replicas);
  return held;
}

// Whether the tracker's log has a REMOVED from `peer_id` ("removed file=...
// peer=<id>"): a DELETE answered, or a loss the peer reported unasked.
bool tracker_heard_removed_from(const Cluster& c, const std::string& peer_id) {
  std::istringstream log(read_text(c.tracker_log()));
  for (std::string line; std::getline(log, line);)
    if (line.find("removed file=") != std::string::npos && line.find(" peer=" + peer_id) != std::string::npos)
      return true;
  return false;
}

// After peer `damaged` lost its copy of the one file in `files` (k=2) while
// running: the tracker hears REMOVED from it unasked, the file is back at 2
// holders, and the copy is real: with `intact` killed, the file comes back
// whole from the new holder (the damaged peer refilled, or the third).
// A file of 8 MiB put at k=2 on a cluster of 3: one holder to damage, the
// other left intact.
struct DamageCase {
  std::vector<TestFile> files;
  std::size_t damaged = 0;
  std::size_t intact = 0;
};
DamageCase put_on_two(const Cluster& c, std::string_view prefix, unsigned seed) {
  auto [files, holders] = put_one_file(c, prefix, 8 * kMiB + 3, seed, 2);
  return DamageCase{files, holders[0], holders[1]};
}

void check_loss_reported_and_repaired(Cluster& c, const std::vector<TestFile>& files, std::size_t damaged,
                                      std::size_t intact) {
  const std::string damaged_id = c.peer_id(damaged);
  bool reported = eventually([&] { return tracker_heard_removed_from(c, damaged_id); }, 15s);
  INFO(read_text(c.tracker_log(), 4000));
  INFO(read_text(c.peer_log(damaged), 4000));
  REQUIRE(reported);
  std::vector<std::string> off = wait_files_at(c, files, 2, kRepairGrace + 20s);
  INFO(join_lines(off));
  REQUIRE(off.empty());
  c.stop_peer(intact, SIGKILL);
  REQUIRE(c.wait_for_peers(2, 10s));
  auto bad = files_not_identical(c, files, c.path("out-copy"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}

}  // namespace

TEST_CASE("every file of a peer killed with SIGKILL is back at k live holders and byte-identical",
          "[replication][repair]") {
  Cluster c(replication_cluster(5));
  // 20 files, 1 KiB to 8 MiB, ~47 MiB in all (x3 on disk).
  const std::vector<std::uint64_t> sizes = {
      1 * kKiB,     3 * kKiB + 1, 16 * kKiB,    64 * kKiB + 1, 100 * kKiB,    256 * kKiB, 512 * kKiB + 7,
      kMiB - 1,     kMiB,         kMiB + 1,     3 * kMiB / 2,  2 * kMiB,      2 * kMiB + 3, 3 * kMiB,
      4 * kMiB,     4 * kMiB + 5, 5 * kMiB,     6 * kMiB,      7 * kMiB - 11, 8 * kMiB};
  auto files = write_files(c, "mixed", sizes, 100);
  put_files(c, files, 3);
  {
    auto off = files_not_at(c, files, 3);
    INFO(join_lines(off));
    REQUIRE(off.empty());
  }
  std::vector<std::string> affected;
  const std::size_t victim = peer_holding_most(c, holder_map(c, files), &affected);
  const std::string victim_id = c.peer_id(victim);
  REQUIRE_FALSE(affected.empty());

  const auto killed = Clock::now();
  const auto deadline = killed + kLivenessWindow + kRepairGrace + 10s;
  c.stop_peer(victim, SIGKILL);
  REQUIRE(c.wait_for_peers(4, left_until(deadline)));  // holder counts drop with the peer
  const double seen_dead = seconds_since(killed);
  std::vector<std::string> off = wait_files_at(c, files, 3, left_until(deadline));
  bool repaired = off.empty();
  const double full = seconds_since(killed);
  INFO("peer " << victim_id << " held " << affected.size() << " files\n" << join_lines(off));
  REQUIRE(repaired);
  report_figure("kill -9 of a peer holding " + std::to_string(affected.size()) + " of 20 files: dead after " +
                std::to_string(seen_dead) + " s, all back at 3 holders after " + std::to_string(full) + " s; " +
                copy_throughput(c));

  for (const auto& name : affected) {
    INFO(name);
    CHECK(holder_ids(c, name).count(victim_id) == 0);
  }
  auto bad = files_not_identical(c, files, c.path("out"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}

TEST_CASE("a file two of whose three holders are killed at once stays gettable from the third and is repaired to k",
          "[replication][repair]") {
  Cluster c(replication_cluster(5));
  auto [files, holders] = put_one_file(c, "pair", 8 * kMiB + 3, 200, 3);
  const std::string& name = files[0].name;
  const std::string survivor_id = c.peer_id(holders[2]);

  // Both signalled before either is reaped.
  const auto killed = Clock::now();
  c.peer_process(holders[0]).signal(SIGKILL);
  c.peer_process(holders[1]).signal(SIGKILL);
  REQUIRE(c.peer_process(holders[0]).wait(5s).has_value());
  REQUIRE(c.peer_process(holders[1]).wait(5s).has_value());

  // At once, while the tracker may still list the dead holders.
  {
    auto bad = files_not_identical(c, files, c.path("out-now"));
    INFO(join_lines(bad));
    CHECK(bad.empty());
  }
  REQUIRE(c.wait_for_peers(3, 10s));
  std::vector<std::string> off = wait_files_at(c, files, 3, kLivenessWindow + kRepairGrace + 15s);
  bool repaired = off.empty();
  INFO(join_lines(off));
  REQUIRE(repaired);
  report_figure("kill -9 of 2 of 3 holders of an 8 MiB file: back at 3 holders after " +
                std::to_string(seconds_since(killed)) + " s");
  auto now_held = holder_ids(c, name);
  CHECK(now_held.count(survivor_id) == 1);
  CHECK(now_held.count(c.peer_id(holders[0])) == 0);
  CHECK(now_held.count(c.peer_id(holders[1])) == 0);

  // The new copies are real: with the original third holder gone too, the
  // file comes back from them alone.
  c.stop_peer(holders[2], SIGKILL);
  REQUIRE(c.wait_for_peers(2, 10s));
  auto bad = files_not_identical(c, files, c.path("out-copies"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}

TEST_CASE("a holder whose chunk files are deleted behind its back serves the rest, reports the file lost, and the file "
          "is copied back to k whole holders",
          "[replication][repair]") {
  Cluster c(replication_cluster(3));
  auto [files, damaged, intact] = put_on_two(c, "gone", 300);

  // The peer keeps running; its manifest stays, its chunk files go.
  std::size_t deleted = 0;
  for (const auto& entry : fs::recursive_directory_iterator(c.peer_data(damaged) / "chunks"))
    if (entry.is_regular_file()) deleted += fs::remove(entry.path()) ? 1 : 0;
  REQUIRE(deleted >= 2);

  // A get asks both holders; the damaged one answers not_found for each chunk
  // it lost, so the other serves them.
  {
    auto bad = files_not_identical(c, files, c.path("out-now"));
    INFO(join_lines(bad));
    CHECK(bad.empty());
  }
  check_loss_reported_and_repaired(c, files, damaged, intact);
}

TEST_CASE("a chunk corrupted on a holder's disk is found by its scrub with no get, and the file is copied back to k "
          "whole holders",
          "[replication][repair][scrub]") {
  Cluster c(replication_cluster(3).with_peer_args({"--scrub-interval-ms", "300", "--scrub-rate", "1G"}));
  auto [files, damaged, intact] = put_on_two(c, "rot", 400);

  // One byte of one chunk flipped on disk, while the peer runs.
  bool flipped = false;
  for (const auto& entry : fs::recursive_directory_iterator(c.peer_data(damaged) / "chunks"))
    if (entry.is_regular_file() && (flipped = flip_bits(entry.path(), 99, 0x04))) break;
  REQUIRE(flipped);

  check_loss_reported_and_repaired(c, files, damaged, intact);
}

TEST_CASE("a holder a get met wrong bytes from is told, drops the chunk within its scrub's first read and not a day "
          "later, and the file is copied back to k whole holders",
          "[replication][repair][scrub]") {
  // The scrub at its defaults: its first pass would come a day after start.
  Cluster c(replication_cluster(3));
  auto [files, damaged, intact] = put_on_two(c, "told", 500);

  // One byte flipped in every chunk on one holder: whichever chunks a get asks
  // of it come back wrong.
  int flipped = 0;
  for (const auto& entry : fs::recursive_directory_iterator(c.peer_data(damaged) / "chunks"))
    if (entry.is_regular_file() && flip_bits(entry.path(), 4321, 0x04)) ++flipped;
  REQUIRE(flipped >= 8);

  // The get takes every chunk from the other holder and tells this one.
  {
    auto bad = files_not_identical(c, files, c.path("out-now"));
    INFO(join_lines(bad));
    CHECK(bad.empty());
  }
  const auto got = Clock::now();
  bool dropped = eventually(
      [&] { return read_text(c.peer_log(damaged)).find("(reported sent wrong): does not match its hash on disk; dropped") !=
                   std::string::npos; },
      10s, 5ms);
  {
    INFO(read_text(c.peer_log(damaged), 4000));
    CHECK(dropped);
    CHECK(read_text(c.peer_log(damaged)).find("scrub: pass done") == std::string::npos);
  }
  report_figure("a chunk a get met wrong bytes of: dropped by its holder within " + std::to_string(seconds_since(got)) +
                " s of the get's end");
  // Wherever the copy goes (back to this holder, which then checks the
  // chunks it kept, or to the third peer), the file is whole at 2 holders.
  check_loss_reported_and_repaired(c, files, damaged, intact);
}

TEST_CASE("a tracker killed with SIGKILL mid-repair and restarted on the same port gets its index back and finishes "
          "the repairs",
          "[replication][repair][tracker]") {
  // One copy at a time per target, so when the tracker dies one copy is in
  // flight and the others are left for the restarted tracker to order.
  Cluster c(replication_cluster(3, {"--max-copies-per-peer", "1"}));
  auto files = write_files(c, "big", {32 * kMiB + 5, 16 * kMiB, 12 * kMiB + 1, 8 * kMiB, 8 * kMiB + 3}, 300);
  put_files(c, files, 3);  // on all three peers
  {
    auto off = files_not_at(c, files, 3);
    INFO(join_lines(off));
    REQUIRE(off.empty());
  }
  // A holder dies (2 live peers: every file is at its wanted 2) and a new peer
  // joins: it is the only copy target, for every file.
  c.stop_peer(0, SIGKILL);
  REQUIRE(c.wait_for_peers(2, 10s));
  const std::size_t target = c.add_peer();
  REQUIRE(c.wait_for_peers(3, 10s));

  // Kill the tracker as soon as the first copy has started.
  auto started_copies = [&] {
    std::string log = read_text(c.peer_log(target));
    int n = 0;
    for (std::size_t at = 0; (at = log.find("replication: copy of ", at)) != std::string::npos; ++at) {
      std::size_t eol = log.find('\n', at);
      if (log.substr(at, eol - at).find(" started from ") != std::string::npos) ++n;
    }
    return n;
  };
  bool copying = eventually([&] { return started_copies() > 0; }, kLivenessWindow + kRepairGrace + 10s, 5ms);
  {
    INFO(c.logs());
    REQUIRE(copying);
  }
  c.stop_tracker(SIGKILL);
  const int started_before = started_copies();
  const bool in_flight = read_peer_copy_log(c.peer_log(target)).done == 0;
  CHECK(started_before == 1);
  report_figure(std::string("tracker killed with ") + std::to_string(started_before) + " copy started, " +
                (in_flight ? "still in flight" : "already done"));
  const auto restarted = Clock::now();
  c.restart_tracker();

  // The index comes back from the peers' announcements: each of the two
  // surviving holders re-announces on its own reconnect, so wait for both.
  std::vector<std::string> missing;
  bool listed = eventually(
      [&] {
        auto counts = holder_counts(c);
        missing.clear();
        for (const auto& f : files)
          if (!counts || !counts->count(f.name) || counts->at(f.name) < 2) missing.push_back(f.name);
        return missing.empty();
      },
      15s, 50ms);
  {
    INFO("not listed with both surviving holders: " << join_lines(missing));
    REQUIRE(listed);
  }
  for (const auto& f : files) {
    auto stat = parse_json(c.p2p({"stat", f.name, "--json"}));
    INFO(stat.dump());
    CHECK(stat["replicas"] == 3);  // k learnt back from the manifests
    CHECK(stat["holders"].get<int>() >= 2);
    CHECK(stat["holder_peers"].size() == stat["holders"].get<std::size_t>());
  }

  // The repairs finish, the rest ordered by the restarted tracker.
  std::vector<std::string> off = wait_files_at(c, files, 3, kRepairGrace + 30s);
  bool repaired = off.empty();
  {
    INFO(join_lines(off));
    REQUIRE(repaired);
  }
  const std::string tracker_log = read_text(c.tracker_log());
  const std::string after_restart = tracker_log.substr(tracker_log.rfind(" listening "));
  int ordered_after = 0;
  for (std::size_t at = 0; (at = after_restart.find(" repair file=", at)) != std::string::npos; ++at) ++ordered_after;
  CHECK(ordered_after >= static_cast<int>(files.size()) - started_before);
  report_figure("tracker restart mid-repair: " + std::to_string(ordered_after) +
                " copies ordered by the restarted tracker, every file at 3 holders " +
                std::to_string(seconds_since(restarted)) + " s after the restart; " + copy_throughput(c));
  auto bad = files_not_identical(c, files, c.path("out"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}

TEST_CASE("no peer runs more copies at once than --max-copies and every repair still finishes",
          "[replication][repair][cap]") {
  Cluster c(replication_cluster(5, {"--max-copies-per-peer", "1"}).with_peer_args({"--max-copies", "1"}));
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t i = 0; i < 16; ++i) sizes.push_back(4 * kMiB + i);
  auto files = write_files(c, "cap", sizes, 400);
  put_files(c, files, 3);
  std::vector<std::string> affected;
  const std::size_t victim = peer_holding_most(c, holder_map(c, files), &affected);
  REQUIRE(affected.size() >= 4);

  const auto killed = Clock::now();
  c.stop_peer(victim, SIGKILL);
  REQUIRE(c.wait_for_peers(4, 10s));
  // Sample every peer's running copies while the repairs run.
  int max_copies = 0, samples = 0, busy_samples = 0;
  std::string max_peer;
  std::vector<std::string> off;
  bool repaired = eventually(
      [&] {
        RunResult r = c.p2p({"peers", "--json"}, 10s);
        if (r.exit_code == 0) {
          ++samples;
          bool busy = false;
          for (const auto& p : parse_json(r)) {
            int copies = p["copies"].get<int>();
            busy = busy || copies > 0;
            if (copies > max_copies) {
              max_copies = copies;
              max_peer = p["peer_id"];
            }
          }
          busy_samples += busy ? 1 : 0;
        }
        off = files_not_at(c, files, 3);
        return off.empty();
      },
      kLivenessWindow + kRepairGrace + 40s, 5ms);
  {
    INFO(join_lines(off));
    REQUIRE(repaired);
  }
  const double full = seconds_since(killed);
  CHECK(max_copies <= 1);
  INFO("peer " << max_peer << " reported " << max_copies << " copies");

  // The peers' own logs: one line per copy start and end.
  int started = 0;
  for (std::size_t i = 0; i < c.peer_count(); ++i) {
    if (i == victim) continue;
    PeerCopyLog log = read_peer_copy_log(c.peer_log(i));
    INFO("peer " << i << ": " << log.started << " started, " << log.done << " done, " << log.failed << " failed");
    CHECK(log.max_concurrent <= 1);
    started += log.started;
  }
  CHECK(started >= static_cast<int>(affected.size()));
  // The tracker's orders: never two in flight to one peer.
  TrackerCopyLog orders = read_tracker_copy_log(c.tracker_log());
  INFO("tracker: " << orders.repairs << " repair orders, busiest peer " << orders.busiest_peer);
  CHECK(orders.max_in_flight_per_peer <= 1);
  CHECK(orders.repairs >= static_cast<int>(affected.size()));
  report_figure(std::to_string(affected.size()) + " repairs at 1 copy per peer: done " + std::to_string(full) +
                " s after kill -9; " + std::to_string(busy_samples) + " of " + std::to_string(samples) +
                " `p2p peers` samples saw a copy running, max " + std::to_string(max_copies) + "; " +
                copy_throughput(c));

  std::vector<TestFile> repaired_files;
  for (const auto& f : files)
    if (std::find(affected.begin(), affected.end(), f.name) != affected.end()) repaired_files.push_back(f);
  auto bad = files_not_identical(c, repaired_files, c.path("out"));
  INFO(join_lines(bad));
  CHECK(bad.empty());
}
