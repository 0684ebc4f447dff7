#include "services/peer/announce_queue.h"

#include "common/limits.h"

namespace p2p::peer {

namespace {

// Keep an ANNOUNCE well inside the tracker's control message limit even when
// a batch holds big manifests (32 bytes a chunk).
constexpr std::uint64_t kByteBudget = limits::kMaxControlMessage / 2;

std::uint64_t encoded_size_estimate(const Manifest& m) { return 64 + m.name.size() + 34 * m.chunks.size(); }

}  // namespace

void AnnounceQueue::restart(std::vector<Hash> ids) {
  ids_.assign(ids.begin(), ids.end());
  complete_owed_ = true;
}

AnnounceQueue::Batch AnnounceQueue::next(const ChunkStore& store) const {
  Batch batch;
  std::uint64_t bytes = 0;
  for (const Hash& id : ids_) {
    Result<Manifest> m = store.manifest(id);
    if (m.ok() && store.complete(m.value())) {
      std::uint64_t size = encoded_size_estimate(m.value());
      if (!batch.body.files.empty() &&
          (batch.body.files.size() == limits::kMaxAnnounceBatch || bytes + size > kByteBudget))
        break;
      batch.body.files.push_back(std::move(m.value()));
      bytes += size;
    }
    ++batch.taken;  // a file no longer held in full is skipped, and leaves the queue with this batch
  }
  batch.body.complete = complete_owed_ && batch.taken == ids_.size();
  return batch;
}

void AnnounceQueue::pop(const Batch& batch) {
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(batch.taken));
  if (batch.body.complete) complete_owed_ = false;
}

}  // namespace p2p::peer
