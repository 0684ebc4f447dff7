#include "tests/support/replicated_files.h"

#include <cstdio>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/eventually.h"
#include "tests/support/json_output.h"
#include "tests/support/random_file.h"

namespace p2p::test {

namespace {

// A get may be sent to a holder the tracker still lists for a moment after it
// died: fail over within 1.5 s rather than the default 10 s.
const std::vector<std::string> kChunkTimeout = {"--chunk-timeout-ms", "1500"};

}  // namespace

ClusterOptions replication_cluster(std::size_t peers, std::vector<std::string> tracker_args) {
  std::vector<std::string> args = {"--repair-grace-ms", std::to_string(kRepairGrace.count()), "--copy-timeout-ms",
                                   "30000"};
  args.insert(args.end(), tracker_args.begin(), tracker_args.end());
  return ClusterOptions{}.with_peers(peers).with_tracker_args(std::move(args));
}

std::vector<TestFile> write_files(const Cluster& c, std::string_view prefix, const std::vector<std::uint64_t>& sizes,
                                  std::uint64_t seed) {
  std::vector<TestFile> files;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    TestFile f;
    f.name = std::string(prefix) + "-" + std::to_string(i) + ".bin";
    f.src = c.path(f.name + ".src");
    f.size = sizes[i];
    write_random_file(f.src, f.size, seed + i);
    files.push_back(std::move(f));
  }
  return files;
}

void put_files(const Cluster& c, const std::vector<TestFile>& files, unsigned replicas) {
  for (const auto& f : files) {
    RunResult r = c.p2p({"put", f.src.string(), "--name", f.name, "--replicas", std::to_string(replicas)});
    if (r.exit_code != 0) throw std::runtime_error("put failed:\n" + describe(r));
  }
}

std::optional<std::map<std::string, std::size_t>> holder_counts(const Cluster& c) {
  RunResult r = c.p2p({"ls", "--json"}, std::chrono::seconds(10));
  if (r.exit_code != 0) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(r.out);
    std::map<std::string, std::size_t> counts;
    for (const auto& f : j) counts[f.at("name").get<std::string>()] = f.at("holders").get<std::size_t>();
    return counts;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::set<std::string> holder_ids(const Cluster& c, const std::string& name) {
  auto j = parse_json(c.p2p({"stat", name, "--json"}));
  std::set<std::string> ids;
  for (const auto& h : j.at("holder_peers")) ids.insert(h.at("peer_id").get<std::string>());
  return ids;
}

std::map<std::string, std::set<std::string>> holder_map(const Cluster& c, const std::vector<TestFile>& files) {
  std::map<std::string, std::set<std::string>> map;
  for (const auto& f : files) map[f.name] = holder_ids(c, f.name);
  return map;
}

std::size_t peer_holding_most(const Cluster& c, const std::map<std::string, std::set<std::string>>& holders,
                              std::vector<std::string>* affected) {
  std::map<std::string, int> count;
  for (const auto& [name, ids] : holders)
    for (const auto& id : ids) ++count[id];
  std::optional<std::size_t> best;
  int best_count = 0;
  for (const auto& [id, n] : count) {
    auto i = c.peer_index(id);
    if (i && n > best_count) {
      best = i;
      best_count = n;
    }
  }
  if (!best) throw std::runtime_error("no file is held by a peer of this cluster");
  if (affected) {
    affected->clear();
    const std::string id = c.peer_id(*best);
    for (const auto& [name, ids] : holders)
      if (ids.count(id)) affected->push_back(name);
  }
  return *best;
}

std::vector<std::string> files_not_at(const Cluster& c, const std::vector<TestFile>& files,
                                      const std::function<std::size_t(const TestFile&)>& wanted) {
  auto counts = holder_counts(c);
  if (!counts) return {"tracker did not answer `p2p ls`"};
  std::vector<std::string> off;
  for (const auto& f : files) {
    auto it = counts->find(f.name);
    std::size_t got = it == counts->end() ? 0 : it->second;
    std::size_t want = wanted(f);
    if (got != want)
      off.push_back(f.name + ": " + std::to_string(got) + " holders, want " + std::to_string(want) +
                    (it == counts->end() ? " (not listed)" : ""));
  }
  return off;
}

std::vector<std::string> files_not_at(const Cluster& c, const std::vector<TestFile>& files, std::size_t wanted) {
  return files_not_at(c, files, [wanted](const TestFile&) { return wanted; });
}

std::vector<std::string> files_not_identical(const Cluster& c, const std::vector<TestFile>& files,
                                             const std::filesystem::path& out_dir) {
  std::filesystem::create_directories(out_dir);
  std::vector<std::string> bad;
  for (const auto& f : files) {
    std::filesystem::path out = out_dir / f.name;
    std::vector<std::string> args = kChunkTimeout;
    args.insert(args.end(), {"get", f.name, "-o", out.string(), "--force"});
    RunResult r = c.p2p(args, std::chrono::seconds(60));
    if (r.exit_code != 0) {
      bad.push_back(f.name + ": get failed\n" + describe(r));
    } else if (!same_content(f.src, out)) {
      bad.push_back(f.name + ": bytes differ from the source");
    }
    std::error_code ec;
    std::filesystem::remove(out, ec);  // keep the temp dir small
  }
  return bad;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

PeerCopyLog read_peer_copy_log(const std::filesystem::path& log) {
  // peer INFO replication: copy of <id> (<name>, N bytes) started from S sources
  // peer INFO replication: copy of <id> (<name>) done: fetched B bytes in C chunks in T s
  // peer WARN replication: copy of <id> (<name>, N bytes) failed after T s: ...
  static const std::regex kStarted(R"(replication: copy of [0-9a-f]{64} .* started from )");
  static const std::regex kDone(
      R"(replication: copy of [0-9a-f]{64} .* done: fetched (\d+) bytes in \d+ chunks in ([0-9.]+) s)");
  static const std::regex kFailed(R"(replication: copy of [0-9a-f]{64} .* failed after )");
  PeerCopyLog stats;
  std::ifstream in(log);
  int running = 0;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (line.find("replication: copy of ") == std::string::npos) continue;
    if (std::regex_search(line, kStarted)) {
      ++stats.started;
      ++running;
      stats.max_concurrent = std::max(stats.max_concurrent, running);
    } else if (std::regex_search(line, m, kDone)) {
      ++stats.done;
      --running;
      stats.fetched_bytes += std::stoull(m[1].str());
      stats.copy_seconds += std::stod(m[2].str());
    } else if (std::regex_search(line, kFailed)) {
      ++stats.failed;
      --running;
    }
    // A restart of the peer (same log, appended; "peer ID serving EP; tracker ...") ends its copies.
    if (line.find(" serving ") != std::string::npos && line.find("; tracker ") != std::string::npos) running = 0;
  }
  return stats;
}

TrackerCopyLog read_tracker_copy_log(const std::filesystem::path& log) {
  // tracker INFO repair file=F name=N size=S -> REPLICATE at peer=P sources=... (...)
  // tracker INFO copy done file=F [name=N] peer=P ...
  // tracker INFO copy failed file=F peer=P: ...
  // tracker INFO trim file=F name=N -> DELETE at peer=P ...
  // tracker INFO death peer=P: ... orders to it forgotten
  static const std::regex kRepair(R"( repair file=([0-9a-f]{64}) .*-> [^=]*peer=([0-9a-f]+))");
  static const std::regex kResult(R"( copy (done|failed) file=([0-9a-f]{64}) .*peer=([0-9a-f]+))");
  static const std::regex kDeath(R"( death peer=([0-9a-f]+): )");
  TrackerCopyLog stats;
  std::map<std::string, std::set<std::string>> in_flight;  // peer -> files ordered to it
  std::ifstream in(log);
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, kRepair)) {
      ++stats.repairs;
      auto& files = in_flight[m[2].str()];
      files.insert(m[1].str());
      if (static_cast<int>(files.size()) > stats.max_in_flight_per_peer) {
        stats.max_in_flight_per_peer = static_cast<int>(files.size());
        stats.busiest_peer = m[2].str();
      }
    } else if (std::regex_search(line, m, kResult)) {
      in_flight[m[3].str()].erase(m[2].str());
    } else if (std::regex_search(line, m, kDeath)) {
      in_flight.erase(m[1].str());
    } else if (line.find(" trim file=") != std::string::npos && line.find(" -> ") != std::string::npos) {
      ++stats.trims;
    } else if (line.find(" listening ") != std::string::npos) {
      in_flight.clear();  // a restarted tracker forgets its orders
    }
  }
  return stats;
}

bool always(const std::function<bool()>& predicate, std::chrono::milliseconds duration,
            std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!predicate()) return false;
    std::this_thread::sleep_for(interval);
  }
  return predicate();
}

void report_figure(const std::string& text) { std::fprintf(stderr, "[figure] %s\n", text.c_str()); }

std::vector<std::string> wait_files_at(const Cluster& c, const std::vector<TestFile>& files, std::size_t wanted,
                                       std::chrono::milliseconds timeout) {
  std::vector<std::string> off;
  eventually(
      [&] {
        off = files_not_at(c, files, wanted);
        return off.empty();
      },
      timeout, std::chrono::milliseconds(50));
  return off;
}

}  // namespace p2p::test
