// p2p-load: a load generator on the client library (client/session.h).
// C client threads, each with its own Session, run a mix of get, put, search
// and locate against a running cluster for D seconds (or get every seeded
// file once with --each-once), checking the SHA-256 of every file they get.
// Prints a table per operation; --json FILE writes the same figures for
// bench/. Exit 0 only with no failed operation and no corrupt byte; 1
// otherwise; 2 on a usage error. Usage: scripts/load-test, README "Load test".
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "client/load/load_client.h"
#include "client/session_flags.h"
#include "common/log.h"
#include "common/malloc_tuning.h"

namespace {

using namespace p2p::client::load;
using Clock = std::chrono::steady_clock;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Unique per run, so its file names never meet an earlier run's.
std::string make_run_id() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x%04x", static_cast<unsigned>(rd()), static_cast<unsigned>(::getpid() & 0xffff));
  return buf;
}

// Each client thread puts every clients-th seeded file; the catalog is then
// filled in index order (--each-once gets them in that order).
// `stats` gets the seeding puts (their retries are shown apart from the run's).
bool seed_files(zmq::context_t& ctx, const LoadConfig& config, FileCatalog& catalog, OpStats& stats) {
  std::vector<std::optional<CatalogEntry>> seeded(config.files);
  std::vector<std::string> errors(config.clients);
  std::vector<OpStats> per_client(config.clients);
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < config.clients; ++c) {
    threads.emplace_back([&, c] {
      LoadClient client(ctx, config, catalog, c);
      for (std::size_t i = c; i < config.files; i += config.clients) {
        seeded[i] = client.seed(i, per_client[c], &errors[c]);
        if (!seeded[i]) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const OpStats& s : per_client) stats.merge(s);
  for (std::size_t i = 0; i < config.files; ++i) {
    if (!seeded[i]) {
      std::fprintf(stderr, "p2p-load: seeding %s failed: %s\n", seeded_name(config.run_id, i).c_str(),
                   errors[i % config.clients].c_str());
      return false;
    }
    catalog.add(std::move(*seeded[i]));
  }
  return true;
}

int run(int argc, char** argv) {
  CLI::App app{"p2p-load: C concurrent clients against a running p2p-share cluster"};
  LoadConfig config;
  std::string mix = "get=80,put=5,search=10,locate=5";
  std::string sizes = "4KiB:90,1MiB:8,32MiB:2";
  double duration_s = 10;
  std::int64_t backoff_ms = config.retry.backoff.count();
  std::int64_t retry_ms = config.retry.budget.count();
  std::string json_path;
  std::string log_level = "warn";
  p2p::client::add_session_flags(app, config.session);
  app.add_option("--clients", config.clients, "concurrent clients (one thread and Session each)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--duration", duration_s, "seconds of measured load (not with --each-once)")
      ->check(CLI::Range(0.001, static_cast<double>(p2p::client::kMaxFlagMillis) / 1000))
      ->capture_default_str();
  app.add_option("--mix", mix, "operation weights")->capture_default_str();
  app.add_option("--files", config.files, "files put before the measured phase")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10000000}))
      ->capture_default_str();
  app.add_option("--sizes", sizes, "file sizes and their weights")->capture_default_str();
  app.add_flag("--each-once", config.each_once, "each client gets every seeded file once, in order, then stops");
  app.add_option("--json", json_path, "also write the results as JSON to this file");
  app.add_option("--seed", config.seed, "random seed (operations, sizes, file contents)")->capture_default_str();
  app.add_option("--window", config.session.window, "GET_CHUNK requests in flight per holder")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--retry-ms", retry_ms,
                 "a failed operation is retried until this long after its first failure (0: never)")
      ->check(CLI::Range(std::int64_t{0}, p2p::client::kMaxFlagMillis))
      ->capture_default_str();
  app.add_option("--backoff-ms", backoff_ms, "first pause before a retry (doubles, at most 1000)")
      ->check(CLI::Range(std::int64_t{1}, p2p::client::kMaxFlagMillis))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  auto parsed_mix = OpMix::parse(mix);
  auto parsed_sizes = SizeSpec::parse(sizes);
  for (const p2p::Status& s : {parsed_mix.status(), parsed_sizes.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "p2p-load: %s\n", s.message().c_str());
      return kExitUsage;
    }
  }
  if (config.each_once && config.files == 0) {
    std::fprintf(stderr, "p2p-load: --each-once needs --files > 0\n");
    return kExitUsage;
  }
  // Gets, searches and locates pick among the files put so far: with none
  // seeded and no puts in the mix there is never one, and the run would spin.
  if (config.files == 0 && parsed_mix->weight(Op::kPut) == 0) {
    std::fprintf(stderr, "p2p-load: --files 0 needs puts in --mix (gets, searches and locates need files)\n");
    return kExitUsage;
  }
  // Opened before the run, so an unwritable path fails in a second, not after it.
  std::ofstream json_out;
  if (!json_path.empty()) {
    json_out.open(json_path);
    if (!json_out) {
      std::fprintf(stderr, "p2p-load: cannot write %s\n", json_path.c_str());
      return kExitUsage;
    }
  }
  config.mix = parsed_mix.value();
  config.sizes = parsed_sizes.value();
  config.duration = std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000));
  config.retry.backoff = std::chrono::milliseconds(backoff_ms);
  config.retry.budget = std::chrono::milliseconds(retry_ms);
  config.run_id = make_run_id();
  p2p::log::set_component("p2p-load");
  if (auto level = p2p::log::parse_level(log_level)) p2p::log::set_level(*level);

  zmq::context_t ctx;
  FileCatalog catalog;
  const auto seed_start = Clock::now();
  std::fprintf(stderr, "p2p-load: run %s: seeding %zu files with %zu clients\n", config.run_id.c_str(), config.files,
               config.clients);
  OpStats seeding;
  if (!seed_files(ctx, config, catalog, seeding)) return kExitFailed;
  std::fprintf(stderr, "p2p-load: seeded in %.2f s (%llu retries); measuring\n", seconds_since(seed_start),
               static_cast<unsigned long long>(seeding.retries));

  std::vector<LoadReport> reports(config.clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto deadline = start + config.duration;
  for (std::size_t c = 0; c < config.clients; ++c) {
    threads.emplace_back([&, c] {
      LoadClient client(ctx, config, catalog, c);
      reports[c] = client.run(deadline);
    });
  }
  for (auto& t : threads) t.join();

  LoadReport total;
  total.clients = config.clients;
  total.duration_s = seconds_since(start);
  total.files = config.files;
  total.seed_retries = seeding.retries;
  total.timeouts_ms = {config.session.timeout.count(), config.session.chunk_timeout.count(),
                       config.session.hedge_after.count(), config.retry.budget.count()};
  for (const LoadReport& r : reports) total.merge(r);
  std::fputs(total.table().c_str(), stdout);
  if (!json_path.empty()) {
    std::ofstream& out = json_out;
    out << total.to_json().dump(2) << "\n";
    out.flush();
    if (!out) {
      std::fprintf(stderr, "p2p-load: cannot write %s\n", json_path.c_str());
      return kExitFailed;
    }
  }
  return total.ok() ? 0 : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts (mallopt is process-wide); best effort: a
  // sanitizer's malloc ignores it. See common/malloc_tuning.h.
  (void)p2p::keep_chunk_memory_mapped();
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "p2p-load: internal error: %s\n", e.what());
    return kExitFailed;
  }
}
