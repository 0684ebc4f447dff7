// p2p-tracker: the index of files and peers, and the control-plane broker.
// Flags: docs/design-brief.md "p2p-tracker". Prints "listening <endpoint>"
// on stdout once bound; logs go to stderr. SIGINT/SIGTERM stop it cleanly
// (exit 0); bad flags exit 2; a failed bind exits 1 with a one-line error.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "common/limits.h"
#include "common/log.h"
#include "common/huge_page_heap.h"
#include "common/malloc_tuning.h"
#include "common/stop_signals.h"
#include "services/tracker/broker.h"
#include "services/tracker/tracker_options.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// How often the main thread looks up from waiting for a signal to check
// whether the broker stopped on its own (a fatal socket error).
constexpr std::chrono::milliseconds kSignalWait{200};

// ZeroMQ I/O threads (the ROUTER's connections are spread over them). Under
// 64 clients one I/O thread was ~74% of the tracker's CPU (epoll, send and
// recv for every request) against ~26% for the broker; with two the tracker
// answered more in 7 of 9 alternating runs, median 1.07x (0.98-1.27x) on
// 2 shared cores (docs/performance.md). p2p-bench-zmq-echo, its ceiling, has
// the same default.
constexpr int kDefaultIoThreads = 2;

int run(int argc, char** argv) {
  p2p::tracker::TrackerOptions options;
  CLI::App app{"p2p-tracker: index of files and peers for p2p-share"};
  int heartbeat_ms = static_cast<int>(options.heartbeat.count());
  int repair_grace_ms = static_cast<int>(options.repair_grace.count());
  int copy_timeout_ms = static_cast<int>(options.copy_timeout.count());
  int rejoin_window_ms = -1;  // not given: one liveness window
  std::string log_level = "info";
  int io_threads = kDefaultIoThreads;
  app.add_option("--listen", options.endpoint, "endpoint to bind (':0' picks a free port)")->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval on service links")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app.add_option("--liveness", options.liveness, "a service is dead after liveness x heartbeat of silence")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--replicas", options.replicas, "wanted replicas when a request says 0")
      ->check(CLI::Range(1u, p2p::limits::kMaxReplicas))
      ->capture_default_str();
  app.add_option("--repair-grace-ms", repair_grace_ms,
                 "wait this long after a holder dies before re-copying its files (also the trim grace; safe "
                 "mode after start, which ends once the index is complete; and how long replication waits for "
                 "the next batch of a peer still announcing)")
      ->check(CLI::Range(0, 86'400'000))
      ->capture_default_str();
  app.add_option("--max-copies-per-peer", options.max_copies_per_peer, "copies one peer receives at once")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--copy-timeout-ms", copy_timeout_ms, "a copy unconfirmed after this long is planned again")
      ->check(CLI::Range(1, 86'400'000))
      ->capture_default_str();
  app.add_option("--rejoin-window-ms", rejoin_window_ms,
                 "after start, the index counts as incomplete this long while running peers rejoin: unknown "
                 "names are answered 'announcing' (ask again), and safe mode goes on; 0 when no peer can be "
                 "rejoining [default: liveness x heartbeat]")
      ->check(CLI::Range(0, 86'400'000));
  app.add_option("--io-threads", io_threads, "ZeroMQ I/O threads for the tracker's connections")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug | info | warn")
      ->check(CLI::IsMember({"debug", "info", "warn"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help (stdout) or the error (stderr)
    return code == 0 ? kExitOk : kExitUsage;
  }
  options.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  options.repair_grace = std::chrono::milliseconds(repair_grace_ms);
  options.copy_timeout = std::chrono::milliseconds(copy_timeout_ms);
  if (rejoin_window_ms >= 0) options.rejoin_window = std::chrono::milliseconds(rejoin_window_ms);

  p2p::log::set_component("tracker");
  p2p::log::set_level(p2p::log::parse_level(log_level).value_or(p2p::log::Level::kInfo));

  // Before any thread starts (mallopt is process-wide): see malloc_tuning.h and huge_page_heap.h.
  if (!p2p::merge_small_frees_at_once()) P2P_INFO("malloc: fastbins left on (this allocator ignores mallopt)");
  if (!p2p::HugePageHeap::prepare()) P2P_INFO("malloc: heap not kept for huge pages (this allocator ignores mallopt)");
  p2p::StopSignals stop_signals;  // before any thread exists: see stop_signals.h

  zmq::context_t ctx(io_threads);
  p2p::tracker::Broker broker(ctx, options);
  p2p::Result<std::string> endpoint = broker.bind();
  if (!endpoint.ok()) {
    std::fprintf(stderr, "p2p-tracker: %s\n", endpoint.status().message().c_str());
    return kExitFailure;
  }
  std::printf("listening %s\n", endpoint->c_str());
  std::fflush(stdout);
  P2P_INFO("listening %s heartbeat=%dms liveness=%d replicas=%u repair-grace=%dms max-copies-per-peer=%u "
           "copy-timeout=%dms rejoin-window=%lldms io-threads=%d",
           endpoint->c_str(), heartbeat_ms, options.liveness, options.replicas, repair_grace_ms,
           options.max_copies_per_peer, copy_timeout_ms, static_cast<long long>(options.rejoin().count()), io_threads);

  std::atomic<bool> finished{false};
  p2p::Status result;
  std::thread loop([&] {
    result = broker.run();
    finished.store(true);
  });
  while (!finished.load()) {
    if (std::optional<int> sig = stop_signals.wait(kSignalWait)) {
      P2P_INFO("signal %d: stopping", *sig);
      broker.stop();
      break;
    }
  }
  loop.join();
  if (!result.ok()) {
    std::fprintf(stderr, "p2p-tracker: %s\n", result.message().c_str());
    return kExitFailure;
  }
  P2P_INFO("stopped");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "p2p-tracker: %s\n", e.what());
    return kExitFailure;
  }
}
