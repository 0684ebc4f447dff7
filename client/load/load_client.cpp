#include "client/load/load_client.h"

#include "client/load/generated_file.h"
#include "client/load/hashing_sink.h"
#include "common/log.h"

namespace p2p::client::load {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

// Content seeds: seeded files by index, run-time puts by client and count,
// kept apart so no two files of a run share content by accident.
std::uint64_t content_seed(std::uint64_t run_seed, std::uint64_t a, std::uint64_t b) {
  return run_seed * 0x9e3779b97f4a7c15ULL + (a << 32) + b;
}

}  // namespace

std::string seeded_name(const std::string& run_id, std::size_t index) {
  return "load-" + run_id + "-" + std::to_string(index);
}

LoadClient::LoadClient(zmq::context_t& ctx, const LoadConfig& config, FileCatalog& catalog, std::size_t id)
    : config_(config), catalog_(catalog), id_(id), session_(ctx, config.session), rng_(config.seed * 7919 + id) {}

std::optional<CatalogEntry> LoadClient::put_file(const std::string& name, std::uint64_t seed, std::uint64_t size,
                                                 OpStats& stats, std::string* why) {
  const auto start = Clock::now();
  GeneratedFile file(seed, size);
  Attempts attempt(config_.retry, stats.retries);
  // force: a retry after a put that committed but whose reply was lost finds its own name bound.
  PutRequest request{name, 0, true, {}};
  while (attempt.next()) {
    Failure failure;
    if (session_.put(request, file, &failure)) {
      stats.latency.record(since(start));
      ++stats.count;
      stats.bytes += size;
      return CatalogEntry{name, size, file.sha256()};
    }
    if (why) *why = failure.status.to_string();
    P2P_DEBUG("put %s attempt %u: %s", name.c_str(), attempt.made(), failure.status.to_string().c_str());
    avoid_blamed_peer(request, failure);
  }
  if (why) *why = "after " + std::to_string(attempt.made()) + " attempts: " + *why;
  ++stats.errors;
  return std::nullopt;
}

std::optional<CatalogEntry> LoadClient::seed(std::size_t index, OpStats& stats, std::string* why) {
  return put_file(seeded_name(config_.run_id, index), content_seed(config_.seed, 0, index),
                  config_.sizes.pick(rng_), stats, why);
}

void LoadClient::do_get(const CatalogEntry& entry, LoadReport& report) {
  OpStats& stats = report.op(Op::kGet);
  const auto start = Clock::now();
  std::string last_error;
  Attempts attempt(config_.retry, stats.retries);
  while (attempt.next()) {
    Failure failure;
    HashingSink sink;
    std::optional<GetResult> got = session_.get(entry.name, sink, &failure);
    if (!got) {
      last_error = failure.status.to_string();
      continue;
    }
    Result<Hash> digest = sink.finish(got->manifest.chunk_count());
    if (!digest.ok() || digest.value() != entry.sha256 || got->manifest.size != entry.size) {
      P2P_ERROR("get %s: the bytes do not match the file's SHA-256 (%llu bytes corrupt)", entry.name.c_str(),
                static_cast<unsigned long long>(entry.size));
      report.corrupt_bytes += entry.size;
      ++stats.errors;
      return;
    }
    stats.latency.record(since(start));
    ++stats.count;
    stats.bytes += entry.size;
    return;
  }
  P2P_ERROR("get %s failed after %u attempts: %s", entry.name.c_str(), attempt.made(), last_error.c_str());
  ++stats.errors;
}

void LoadClient::do_put(LoadReport& report) {
  const std::uint64_t n = puts_++;
  const std::string name = "load-" + config_.run_id + "-c" + std::to_string(id_) + "-" + std::to_string(n);
  std::string why;
  std::optional<CatalogEntry> entry =
      put_file(name, content_seed(config_.seed, id_ + 1, n), config_.sizes.pick(rng_), report.op(Op::kPut), &why);
  if (entry)
    catalog_.add(std::move(*entry));
  else
    P2P_ERROR("put %s failed %s", name.c_str(), why.c_str());
}

void LoadClient::do_query(Op op, LoadReport& report) {
  OpStats& stats = report.op(op);
  std::optional<CatalogEntry> entry = catalog_.pick(rng_);
  if (!entry) return;
  const auto start = Clock::now();
  std::string last_error;
  Attempts attempt(config_.retry, stats.retries);
  while (attempt.next()) {
    Status s;
    if (op == Op::kSearch) {
      // The file's exact name as a substring: one result, a realistic lookup.
      Result<proto::ListReply> found = session_.search(entry->name);
      s = found.ok() && found->files.empty() ? Status{ErrorCode::kNotFound, "search found nothing"} : found.status();
    } else {
      Failure failure;
      if (!session_.locate(entry->name, &failure)) s = failure.status;
    }
    if (s.ok()) {
      stats.latency.record(since(start));
      ++stats.count;
      return;
    }
    last_error = s.to_string();
  }
  P2P_ERROR("%s %s failed after %u attempts: %s", op_name(op), entry->name.c_str(), attempt.made(),
            last_error.c_str());
  ++stats.errors;
}

LoadReport LoadClient::run(Clock::time_point deadline) {
  LoadReport report;
  if (config_.each_once) {
    for (std::size_t i = 0; i < config_.files; ++i) do_get(catalog_.at(i), report);
    return report;
  }
  while (Clock::now() < deadline) {
    const Op op = config_.mix.pick(rng_);
    if (op == Op::kPut) {
      do_put(report);
    } else if (op == Op::kGet) {
      if (std::optional<CatalogEntry> entry = catalog_.pick(rng_)) do_get(*entry, report);
    } else {
      do_query(op, report);
    }
  }
  return report;
}

}  // namespace p2p::client::load
