// Manifests whose chunk hashes are made up, with no bytes behind them: for
// tests of the tracker, which indexes, finds and places files and never reads
// a chunk.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/limits.h"
#include "common/manifest.h"
#include "common/sha256.h"

namespace p2p::test {

// A valid manifest of `size` bytes in chunks of limits::kMinChunkSize. Its
// chunk hashes come from `name`, `seed` and the chunk's index, so two seeds
// give two contents (two file ids) under one name. Throws std::logic_error
// when the arguments make no valid manifest (a mistake in the test).
inline Manifest fake_manifest(const std::string& name, std::uint64_t size, int seed = 0, std::uint32_t replicas = 0) {
  Manifest m;
  m.name = name;
  m.size = size;
  m.chunk_size = limits::kMinChunkSize;
  m.replicas = replicas;
  for (std::uint64_t i = 0; i < chunk_count_for(size, m.chunk_size); ++i) {
    std::string text = name + "/" + std::to_string(seed) + "/" + std::to_string(i);
    m.chunks.push_back(sha256(text.data(), text.size()));
  }
  if (Status s = m.validate(); !s.ok()) throw std::logic_error("fake_manifest: " + s.to_string());
  return m;
}

}  // namespace p2p::test
