// p2p-peer: stores chunks and serves them (docs/design-brief.md "p2p-peer").
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <chrono>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "common/chunk_store.h"
#include "common/log.h"
#include "common/malloc_tuning.h"
#include "common/stop_signals.h"
#include "services/peer/peer_id.h"
#include "services/peer/peer_options.h"
#include "services/peer/replication_service.h"
#include "services/peer/service_thread.h"
#include "services/peer/storage_service.h"
#include "services/peer/transfer_service.h"

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
// How often the main thread checks for a RELEASE between signals: short
// enough that a released peer exits promptly.
constexpr std::chrono::milliseconds kMainTick{100};


}  // namespace

int main(int argc, char** argv) {
  using namespace p2p;
  StopSignals stop_signals;  // before any thread starts: see stop_signals.h

  peer::PeerOptions o;
  std::string capacity_text;
  long heartbeat_ms = o.heartbeat.count();
  long forward_timeout_ms = o.forward_timeout.count();
  long chunk_timeout_ms = o.chunk_timeout.count();
  long hedge_ms = o.hedge_after.count();
  CLI::App app{"p2p-share peer: stores chunks and serves them to clients and peers"};
  app.add_option("--tracker", o.tracker, "tracker endpoint")->capture_default_str();
  app.add_option("--listen", o.listen, "data endpoint to bind (:0 picks a free port)")->capture_default_str();
  app.add_option("--data", o.data_dir, "data directory (created)")->required();
  app.add_option("--advertise", o.advertise, "endpoint given to others (default: the bound one)");
  app.add_option("--workers", o.workers, "transfer worker threads")->capture_default_str()->check(CLI::Range(1u, 1024u));
  app.add_option("--capacity", capacity_text, "bytes to store, K/M/G/T suffixes (default: free space + stored)");
  app.add_option("--heartbeat-ms", heartbeat_ms, "tracker heartbeat interval")->capture_default_str()->check(CLI::Range(1L, 3600000L));
  app.add_option("--liveness", o.liveness, "missed heartbeats before the tracker counts as gone")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--forward-timeout-ms", forward_timeout_ms, "wait for the next peer of a write pipeline")
      ->capture_default_str()->check(CLI::Range(1L, 3600000L));
  app.add_option("--chunk-timeout-ms", chunk_timeout_ms, "a copy's wait for each chunk from a source")
      ->capture_default_str()->check(CLI::Range(1L, 86400000L));
  app.add_option("--hedge-ms", hedge_ms,
                 "a copy's chunk unanswered this long (or 4x the slowest reply) is also asked of another source; "
                 "at or above --chunk-timeout-ms, never")
      ->capture_default_str()->check(CLI::Range(1L, 86400000L));
  app.add_option("--max-copies", o.max_copies, "REPLICATE copies run at once; more orders wait in a queue")
      ->capture_default_str()->check(CLI::Range(1u, 64u));
  std::string scrub_rate_text = std::to_string(o.scrub_rate >> 20) + "M";
  app.add_option("--scrub-rate", scrub_rate_text,
                 "bytes a second the background re-read of every stored chunk reads, and the checks of chunks "
                 "reported sent wrong; K/M/G suffixes (0: both off)")
      ->capture_default_str();
  long scrub_interval_ms = o.scrub_interval.count();
  app.add_option("--scrub-interval-ms", scrub_interval_ms, "between the starts of two scrub passes; the first one after start")
      ->capture_default_str()->check(CLI::Range(1L, 31L * 86400000L));
  app.add_option("--log-level", o.log_level, "debug|info|warn|error")
      ->capture_default_str()->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  o.forward_timeout = std::chrono::milliseconds(forward_timeout_ms);
  o.chunk_timeout = std::chrono::milliseconds(chunk_timeout_ms);
  o.hedge_after = std::chrono::milliseconds(hedge_ms);
  if (!capacity_text.empty()) {
    std::optional<std::uint64_t> capacity = peer::parse_byte_size(capacity_text);
    if (!capacity || *capacity == 0) {
      std::fprintf(stderr, "--capacity: '%s' is not a size like 500M or 2G\n", capacity_text.c_str());
      return kExitUsage;
    }
    o.capacity = *capacity;
  }
  if (std::optional<std::uint64_t> rate = peer::parse_byte_size(scrub_rate_text)) {
    o.scrub_rate = *rate;  // 0: no scrub
  } else {
    std::fprintf(stderr, "--scrub-rate: '%s' is not 0 or a size like 8M\n", scrub_rate_text.c_str());
    return kExitUsage;
  }
  o.scrub_interval = std::chrono::milliseconds(scrub_interval_ms);
  if (o.advertise.empty() && peer::is_wildcard_endpoint(o.listen)) {
    std::fprintf(stderr, "--advertise is required when listening on all interfaces (%s)\n", o.listen.c_str());
    return kExitUsage;
  }

  log::set_component("peer");
  log::set_level(log::parse_level(o.log_level).value_or(log::Level::kInfo));
  // Before any thread starts (mallopt is process-wide): see malloc_tuning.h.
  if (!keep_chunk_memory_mapped()) P2P_INFO("malloc: chunk buffers not kept (this allocator ignores mallopt)");

  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) {
    P2P_ERROR("cannot create %s: %s", o.data_dir.c_str(), ec.message().c_str());
    return kExitError;
  }
  Result<std::string> peer_id = peer::load_or_create_peer_id(o.data_dir);
  if (!peer_id.ok()) {
    P2P_ERROR("peer id: %s", peer_id.status().to_string().c_str());
    return kExitError;
  }

  // The store is checked before anything is served: a chunk that does not
  // match its name is never handed out.
  ChunkStore store(o.data_dir, o.capacity);
  Result<ChunkStore::LoadReport> report = store.load();
  if (!report.ok()) {
    P2P_ERROR("store: %s", report.status().to_string().c_str());
    return kExitError;
  }
  P2P_INFO("store %s: %llu chunks (%zu corrupted dropped), %llu manifests (%zu incomplete, %llu unreadable dropped); "
           "%llu of %llu bytes used",
           o.data_dir.c_str(), static_cast<unsigned long long>(report->chunks), report->dropped_chunks.size(),
           static_cast<unsigned long long>(report->manifests), report->incomplete_manifests.size(),
           static_cast<unsigned long long>(report->dropped_manifests),
           static_cast<unsigned long long>(store.stored_bytes()), static_cast<unsigned long long>(store.capacity()));
  if (report->orphan_chunks != 0)
    P2P_INFO("store: deleted %llu chunks (%llu bytes) that no file uses (an interrupted put or copy)",
             static_cast<unsigned long long>(report->orphan_chunks),
             static_cast<unsigned long long>(report->orphan_bytes));
  for (const Hash& id : report->incomplete_manifests)
    P2P_WARN("store: file %s is incomplete here and is not announced", id.hex().c_str());

  zmq::context_t ctx;  // declared before the services: destroyed after they are joined
  ServiceLinkOptions link;
  link.tracker_endpoint = o.tracker;
  link.ready.peer_id = peer_id.value();
  link.ready.capacity = store.capacity();
  link.ready.incarnation = peer::new_incarnation();
  link.heartbeat = o.heartbeat;
  link.liveness = o.liveness;

  // Before the transfer service, which hands it CHECK_CHUNK reports from its
  // workers: constructed first, it is destroyed after they are joined.
  peer::Scrubber scrubber(store, peer::ScrubOptions{o.scrub_rate, o.scrub_interval});
  scrubber.start();

  peer::TransferOptions transfer_options;
  transfer_options.listen = o.listen;
  transfer_options.advertise = o.advertise;
  transfer_options.workers = o.workers;
  transfer_options.forward_timeout = o.forward_timeout;
  transfer_options.drain_timeout = o.forward_timeout + std::chrono::seconds(1);
  transfer_options.committed_endpoint = peer::kCommittedEndpoint;
  transfer_options.link = link;
  transfer_options.check_chunk = [&scrubber](const Hash& hash) { return scrubber.suspect(hash); };
  peer::TransferService transfer(ctx, store, transfer_options);
  Result<std::string> endpoint = transfer.start();
  if (!endpoint.ok()) {
    P2P_ERROR("%s", endpoint.status().to_string().c_str());
    return kExitUsage;
  }
  link.ready.endpoint = endpoint.value();
  peer::StorageService storage(ctx, store, link, peer::kCommittedEndpoint);
  peer::ReplicationOptions replication_options;
  replication_options.link = link;
  replication_options.max_copies = o.max_copies;
  replication_options.fetch.chunk_timeout = o.chunk_timeout;
  replication_options.fetch.hedge_after = o.hedge_after;
  replication_options.committed_endpoint = peer::kCommittedEndpoint;
  peer::ReplicationService replication(ctx, store, replication_options);
  storage.start();
  replication.start();

  std::printf("listening %s\n", endpoint->c_str());
  std::fflush(stdout);
  P2P_INFO("peer %s serving %s; tracker %s; %u workers", peer_id->c_str(), endpoint->c_str(), o.tracker.c_str(),
           o.workers);

  // First signal: drain (the tracker moves what only this peer holds, then
  // sends RELEASE). A DRAIN from the tracker starts the same drain inside the
  // storage service. A second signal exits at once.
  bool drain_asked = false;
  for (;;) {
    if (std::optional<int> sig = stop_signals.wait(kMainTick)) {
      if (drain_asked) {
        P2P_WARN("second signal %d: exiting without waiting for RELEASE; files held only here may lose a copy", *sig);
        break;
      }
      drain_asked = true;
      P2P_INFO("signal %d: draining before leaving (signal again to exit at once)", *sig);
      storage.drain();
    }
    if (storage.released()) {
      P2P_INFO("released by the tracker: stopping");
      break;
    }
  }
  storage.stop();
  replication.stop();
  transfer.stop();
  scrubber.stop();
  storage.join();
  replication.join();
  transfer.join();
  scrubber.join();
  P2P_INFO("stopped");
  return 0;
}
