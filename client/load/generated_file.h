// GeneratedFile: a file's bytes made up on the fly from a seed, as a
// ChunkSource, so the load generator can put files of any size without
// keeping them in memory or on disk: only one chunk exists at a time, and
// the same seed always gives the same bytes (a failure can be reproduced).
// Value-like; one thread at a time.
#pragma once

#include <cstdint>

#include "common/chunk_reader.h"
#include "common/hash.h"
#include "common/limits.h"

namespace p2p::client::load {

class GeneratedFile final : public ChunkSource {
 public:
  GeneratedFile(std::uint64_t seed, std::uint64_t size, std::uint32_t chunk_size = limits::kDefaultChunkSize)
      : seed_(seed), size_(size), chunk_size_(chunk_size) {}

  std::uint64_t size() const override { return size_; }
  std::uint32_t chunk_size() const override { return chunk_size_; }
  Result<std::optional<Chunk>> next() override;
  void rewind() override { next_index_ = 0; }

  // SHA-256 of the whole file (one pass over freshly generated chunks).
  Hash sha256() const;

 private:
  // Fills chunk `index` (length bytes) with its pseudo-random bytes.
  void fill(std::uint64_t index, char* out, std::size_t length) const;

  std::uint64_t seed_;
  std::uint64_t size_;
  std::uint32_t chunk_size_;
  std::uint64_t next_index_ = 0;
};

}  // namespace p2p::client::load
