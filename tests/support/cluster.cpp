#include "tests/support/cluster.h"

#include <cstdio>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/eventually.h"

namespace p2p::test {

namespace {

// Per tracker request; well above a loaded CI box's latency, well below the
// test timeouts, so a dead tracker shows up as exit 3 quickly.
constexpr int kClientTimeoutMs = 3000;
// Bounded graceful stop of the tracker before SIGKILL.
constexpr auto kStopGrace = std::chrono::seconds(10);

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

}  // namespace

int endpoint_port(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon + 1 >= endpoint.size()) throw std::runtime_error("no port in " + endpoint);
  return std::stoi(endpoint.substr(colon + 1));
}

std::string describe(const RunResult& r) {
  std::string s = "$ " + r.command + "\nexit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
                  " after " + std::to_string(r.seconds) + " s\n";
  auto clip = [](const std::string& t) { return t.size() > 4000 ? "..." + t.substr(t.size() - 4000) : t; };
  s += "--- stdout\n" + clip(r.out) + "--- stderr\n" + clip(r.err);
  return s;
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), dir_("p2p-it") {
  start_tracker("tcp://127.0.0.1:0");
  // Later restarts reuse the port so peers, which know only this endpoint, reconnect.
  tracker_listen_ = "tcp://127.0.0.1:" + std::to_string(endpoint_port(tracker_endpoint_));
  for (std::size_t i = 0; i < options_.peers; ++i) add_peer();
  if (!wait_for_peers(options_.peers, options_.startup_timeout))
    throw std::runtime_error("cluster: " + std::to_string(options_.peers) + " peers did not register in time\n" +
                             logs());
}

Cluster::~Cluster() {
  if (std::uncaught_exceptions() > 0 || env_set("P2P_TEST_LOGS")) std::fprintf(stderr, "%s", logs().c_str());
  // Peers first, then the tracker; Process destructors SIGKILL and reap.
  for (auto& p : peers_) p.process.reset();
  tracker_.reset();
}

void Cluster::start_tracker(const std::string& listen) {
  std::vector<std::string> args = {"--listen",   listen,
                                   "--heartbeat-ms", std::to_string(options_.heartbeat_ms),
                                   "--liveness", std::to_string(options_.liveness)};
  if (options_.replicas) args.insert(args.end(), {"--replicas", std::to_string(*options_.replicas)});
  args.insert(args.end(), options_.tracker_args.begin(), options_.tracker_args.end());
  const auto deadline = std::chrono::steady_clock::now() + options_.startup_timeout;
  // A restart on a fixed port may race the old socket's release: retry until the deadline.
  for (;;) {
    tracker_ = std::make_unique<Process>(bin_path("p2p-tracker"), args, dir_ / "tracker.log");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (auto ep = tracker_->read_listening(left)) {
      tracker_endpoint_ = *ep;
      return;
    }
    tracker_->kill_and_wait();
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("cluster: tracker did not print 'listening'\n" + tracker_->log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry pacing, not synchronisation
  }
}

void Cluster::start_peer(Peer& peer) {
  std::vector<std::string> args = {"--tracker",      tracker_endpoint_,
                                   "--listen",       peer.listen,
                                   "--data",         peer.data.string(),
                                   "--heartbeat-ms", std::to_string(options_.heartbeat_ms),
                                   "--liveness",     std::to_string(options_.peer_liveness.value_or(options_.liveness))};
  args.insert(args.end(), options_.peer_args.begin(), options_.peer_args.end());
  args.insert(args.end(), peer.extra_args.begin(), peer.extra_args.end());
  const auto deadline = std::chrono::steady_clock::now() + options_.startup_timeout;
  for (;;) {
    peer.process = std::make_unique<Process>(bin_path("p2p-peer"), args, peer.log);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (auto ep = peer.process->read_listening(left)) {
      peer.endpoint = *ep;
      peer.listen = "tcp://127.0.0.1:" + std::to_string(endpoint_port(*ep));
      return;
    }
    peer.process->kill_and_wait();
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("cluster: peer " + peer.data.string() + " did not print 'listening'\n" +
                               peer.process->log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::size_t Cluster::add_peer(const std::vector<std::string>& extra_args) {
  std::size_t i = peers_.size();
  Peer peer;
  peer.data = dir_ / ("peer" + std::to_string(i));
  peer.log = dir_ / ("peer" + std::to_string(i) + ".log");
  peer.listen = "tcp://127.0.0.1:0";
  peer.extra_args = extra_args;
  peers_.push_back(std::move(peer));
  start_peer(peers_.back());
  return i;
}

int Cluster::stop_peer(std::size_t i, int sig, std::chrono::milliseconds grace) {
  Process& p = *peers_.at(i).process;
  p.signal(sig);
  if (auto code = p.wait(grace)) return *code;
  p.kill_and_wait();
  return -1;
}

void Cluster::restart_peer(std::size_t i) {
  Peer& peer = peers_.at(i);
  if (peer.process && peer.process->running()) peer.process->kill_and_wait();
  start_peer(peer);
}

void Cluster::restart_peer_elsewhere(std::size_t i) {
  peers_.at(i).listen = "tcp://127.0.0.1:0";  // start_peer fixes the new port for later restarts
  restart_peer(i);
}

int Cluster::stop_tracker(int sig) {
  tracker_->signal(sig);
  if (auto code = tracker_->wait(kStopGrace)) return *code;
  tracker_->kill_and_wait();
  return -1;
}

void Cluster::restart_tracker(std::optional<std::vector<std::string>> tracker_args) {
  if (tracker_ && tracker_->running()) tracker_->kill_and_wait();
  if (tracker_args) options_.tracker_args = std::move(*tracker_args);
  start_tracker(tracker_listen_);
}

std::string Cluster::peer_id(std::size_t i) const {
  std::ifstream in(peers_.at(i).data / "peer_id");
  std::string id;
  in >> id;
  return id;
}

std::optional<std::size_t> Cluster::peer_index(std::string_view key) const {
  for (std::size_t i = 0; i < peers_.size(); ++i)
    if (peers_[i].endpoint == key || peer_id(i) == key) return i;
  return std::nullopt;
}

RunResult Cluster::p2p(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  std::vector<std::string> full = {"--tracker", tracker_endpoint_, "--timeout-ms", std::to_string(kClientTimeoutMs)};
  full.insert(full.end(), args.begin(), args.end());
  return run(bin_path("p2p"), full, timeout);
}

Process Cluster::p2p_background(const std::vector<std::string>& args, std::string_view log_name) const {
  std::vector<std::string> full = {"--tracker", tracker_endpoint_, "--timeout-ms", std::to_string(kClientTimeoutMs)};
  full.insert(full.end(), args.begin(), args.end());
  return Process(bin_path("p2p"), full, dir_ / log_name);
}

std::optional<std::size_t> Cluster::live_peers() const {
  RunResult r = p2p({"peers", "--json"}, std::chrono::seconds(10));
  if (r.exit_code != 0) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(r.out);
    if (!j.is_array()) return std::nullopt;
    return j.size();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool Cluster::wait_for_peers(std::size_t n, std::chrono::milliseconds timeout) const {
  return eventually([&] { return live_peers() == n; }, timeout, std::chrono::milliseconds(100));
}

std::string Cluster::logs(std::size_t bytes_per_log) const {
  std::string out = "==== cluster logs in " + dir_.path().string() + "\n";
  std::error_code ec;  // logs() runs in destructors: never throw
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path(), ec)) {
    if (entry.path().extension() != ".log") continue;
    out += "---- " + entry.path().filename().string() + " (tail)\n" + read_text(entry.path(), bytes_per_log);
  }
  return out;
}

}  // namespace p2p::test
