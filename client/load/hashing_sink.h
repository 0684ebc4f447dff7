// HashingSink: a get's ChunkSink that keeps no file, only the SHA-256 of the
// whole file, so the load generator checks every byte it gets without
// writing to disk.
//
// Chunks arrive in any order (several holders at once); SHA-256 needs them
// in order, so a chunk that arrives early waits in memory until the chunks
// before it have come. The fetcher asks for chunks in ascending order, so
// the wait is about holders x window chunks; a holder that stalls while the
// others run ahead makes it grow, up to the file's size at worst.
// Thread affinity: the fetching thread.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "common/chunk_fetcher.h"
#include "common/hash.h"
#include "common/sha256.h"

namespace p2p::client::load {

class HashingSink final : public ChunkSink {
 public:

  Status write(std::uint64_t index, const void* data, std::size_t size) override;

  // Bytes hashed so far (in order).
  std::uint64_t hashed_bytes() const { return hashed_; }
  // The whole file's SHA-256; kInternal unless exactly chunks 0 ..
  // chunk_count-1 were written. Call once.
  Result<Hash> finish(std::uint64_t chunk_count);

 private:
  Sha256 digest_;
  std::uint64_t next_index_ = 0;  // the next chunk the digest needs
  std::map<std::uint64_t, std::vector<char>> early_;  // arrived before their turn
  std::uint64_t hashed_ = 0;
};

}  // namespace p2p::client::load
