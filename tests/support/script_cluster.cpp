#include "tests/support/script_cluster.h"

#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "tests/support/cluster.h"
#include "tests/support/eventually.h"

namespace p2p::test {

namespace {

// scripts/cluster start waits up to 15 s per server, then for registration.
constexpr auto kStartTimeout = std::chrono::seconds(60);
// How long the destructor keeps killing recorded processes before giving up.
constexpr auto kKillTimeout = std::chrono::seconds(10);

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

std::string first_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

// The pid a pid file names, if it runs `binary` now (a zombie has no cmdline).
int recorded_pid(const std::filesystem::path& pidfile, const std::string& binary) {
  const std::string pid = first_line(pidfile);
  if (pid.empty()) return -1;
  // Streamed, not read_text(): /proc files report size 0.
  std::ifstream in("/proc/" + pid + "/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (cmdline.find(binary) == std::string::npos) return -1;
  try {
    return std::stoi(pid);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

std::filesystem::path source_dir() { return P2P_SOURCE_DIR; }

std::filesystem::path build_dir() { return std::filesystem::path(bin_path("p2p")).parent_path().parent_path(); }

ScriptCluster::ScriptCluster(ScriptClusterOptions options)
    : options_(options), dir_("p2p-script"), run_dir_(dir_ / "run") {
  std::vector<std::string> env = {"PORT=0", "HEARTBEAT_MS=" + std::to_string(options_.heartbeat_ms),
                                  "LIVENESS=" + std::to_string(options_.liveness),
                                  "FORWARD_TIMEOUT_MS=" + std::to_string(options_.forward_timeout_ms)};
  if (!options_.scrub_rate.empty()) env.push_back("SCRUB_RATE=" + options_.scrub_rate);
  if (options_.scrub_interval_ms != 0) env.push_back("SCRUB_INTERVAL_MS=" + std::to_string(options_.scrub_interval_ms));
  RunResult r = script("cluster", {"start", std::to_string(options_.peers)}, kStartTimeout, env);
  tracker_endpoint_ = first_line(run_dir_ / "tracker.endpoint");
  if (r.exit_code != 0 || tracker_endpoint_.empty())
    throw std::runtime_error("scripts/cluster start failed\n" + describe(r) + logs());
}

ScriptCluster::~ScriptCluster() {
  if (std::uncaught_exceptions() > 0 || env_set("P2P_TEST_LOGS")) std::fprintf(stderr, "%s", logs().c_str());
  eventually(
      [&] {
        const std::vector<int> pids = running_pids();
        for (int pid : pids) ::kill(pid, SIGKILL);
        return pids.empty();
      },
      kKillTimeout);
}

RunResult ScriptCluster::script(const std::string& name, const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout, const std::vector<std::string>& env) const {
  std::vector<std::string> full = {"-u", "P2P_TRACKER", "RUN_DIR=" + run_dir_.string(),
                                   "BUILD_DIR=" + build_dir().string()};
  full.insert(full.end(), env.begin(), env.end());
  full.push_back((source_dir() / "scripts" / name).string());
  full.insert(full.end(), args.begin(), args.end());
  return run("/usr/bin/env", full, timeout);
}

std::vector<int> ScriptCluster::running_pids(const std::string& binary) const {
  std::vector<int> pids;
  std::error_code ec;  // runs in the destructor: never throw
  for (const auto& entry : std::filesystem::directory_iterator(run_dir_, ec)) {
    if (entry.path().extension() != ".pid") continue;
    if (int pid = recorded_pid(entry.path(), binary); pid > 0) pids.push_back(pid);
  }
  return pids;
}

std::size_t ScriptCluster::running_peers() const { return running_pids("p2p-peer").size(); }

std::string ScriptCluster::logs(std::size_t bytes_per_log) const {
  std::string out = "==== script cluster logs in " + run_dir_.string() + "\n";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir_, ec)) {
    if (entry.path().extension() != ".log") continue;
    out += "---- " + entry.path().filename().string() + " (tail)\n" + read_text(entry.path(), bytes_per_log);
  }
  return out;
}

}  // namespace p2p::test
