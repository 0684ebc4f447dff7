#include "services/peer/file_copy.h"

#include <set>
#include <string>
#include <vector>

#include "common/log.h"

namespace p2p::peer {

namespace {

constexpr std::string_view kTcpScheme = "tcp://";

// Stores each chunk the fetcher hands over; the fetcher has checked its
// length and SHA-256 already, so the store does not hash it again.
class StoreSink final : public ChunkSink {
 public:
  StoreSink(ChunkStore& store, const Manifest& manifest) : store_(store), manifest_(manifest) {}
  Status write(std::uint64_t index, const void* data, std::size_t size) override {
    return store_.put_chunk(manifest_.chunks[index], data, size, ChunkStore::Verify::kAlreadyVerified);
  }

 private:
  ChunkStore& store_;
  const Manifest& manifest_;
};

}  // namespace

Status validate_order(const proto::ReplicateOrder& order) {
  if (Status s = order.manifest.validate(); !s.ok()) return {ErrorCode::kBadRequest, "invalid manifest: " + s.message()};
  if (order.sources.empty()) return {ErrorCode::kBadRequest, "no sources to copy from"};
  for (const proto::HolderInfo& source : order.sources) {
    if (source.endpoint.rfind(kTcpScheme, 0) != 0 || source.endpoint.size() == kTcpScheme.size())
      return {ErrorCode::kBadRequest, "source " + source.peer_id + " has no tcp:// endpoint ('" + source.endpoint + "')"};
  }
  return Status::Ok();
}

Result<CopyReport> copy_file(zmq::context_t& ctx, ChunkStore& store, const proto::ReplicateOrder& order,
                             const FetchOptions& fetch) {
  const Manifest& m = order.manifest;
  // Chunks of this file already here (a copy ordered back to a peer that
  // lost part of it, or chunks other files share) are checked from disk
  // first, since they are about to be vouched for again: where one chunk of
  // a file went bad, its neighbours may have too. A corrupt one is dropped
  // (its files reported lost) and fetched like a missing one. A new holder
  // has none of them and reads nothing here.
  std::uint64_t checked = 0, dropped = 0;
  for (const Hash& h : std::set<Hash>(m.chunks.begin(), m.chunks.end())) {
    if (!store.has_chunk(h)) continue;
    // Between chunks, as the fetch does: a stopping peer must not wait out
    // the re-read of a big file it kept.
    if (fetch.cancelled && fetch.cancelled())
      return Status{ErrorCode::kShuttingDown, "copy of '" + m.name + "' cancelled"};
    Result<ChunkStore::ScrubOutcome> outcome = store.scrub_chunk(h);
    if (!outcome.ok()) return outcome.status();  // unreadable: not vouched for
    ++checked;
    if (outcome->dropped) ++dropped;
  }
  if (checked > 0)
    P2P_INFO("copy of %s: %llu chunks already here checked from disk, %llu of them corrupt and fetched again",
             m.name.c_str(), static_cast<unsigned long long>(checked), static_cast<unsigned long long>(dropped));
  const std::vector<Hash> missing = store.missing_chunks(m);
  const std::set<Hash> wanted(missing.begin(), missing.end());
  // One index per missing hash: a chunk repeated in the file is fetched once.
  std::vector<std::uint64_t> indexes;
  std::set<Hash> taken;
  CopyReport report;
  for (std::uint64_t i = 0; i < m.chunk_count(); ++i) {
    if (wanted.contains(m.chunks[i]) && taken.insert(m.chunks[i]).second) {
      indexes.push_back(i);
      report.fetched_bytes += m.chunk_length(i);
    }
  }
  report.fetched_chunks = indexes.size();
  if (report.fetched_bytes > store.free_bytes())
    return Status{ErrorCode::kNoSpace, "copy needs " + std::to_string(report.fetched_bytes) + " bytes, " +
                                           std::to_string(store.free_bytes()) + " free"};
  if (!indexes.empty()) {
    StoreSink sink(store, m);
    if (Status s = fetch_chunks(ctx, m, indexes, order.sources, fetch, sink); !s.ok()) return s;
  }
  if (!store.complete(m)) return Status{ErrorCode::kMissingChunks, "a chunk was removed while the copy ran"};
  if (Status s = store.put_manifest(m); !s.ok()) return s;
  return report;
}

}  // namespace p2p::peer
