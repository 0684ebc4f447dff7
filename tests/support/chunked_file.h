// A small test file held in memory with its manifest: for tests that move,
// store or write a file's chunks. Bytes come from patterned_bytes(), so a
// chunk written at the wrong offset, or another file's chunk, has another
// hash; files of one seed share their first chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/limits.h"
#include "common/manifest.h"
#include "common/sha256.h"
#include "tests/support/file_bytes.h"

namespace p2p::test {

struct ChunkedFile {
  static constexpr std::uint32_t kChunk = limits::kMinChunkSize;

  std::string bytes;
  Manifest manifest;

  // `chunks` chunks of kChunk bytes, the last one `short_by` (< kChunk) bytes
  // shorter, so that a short last chunk is always part of the test.
  ChunkedFile(std::string name, std::uint64_t chunks, int seed = 0, std::size_t short_by = 100)
      : bytes(patterned_bytes(chunks * kChunk - short_by, seed)) {
    manifest.name = std::move(name);
    manifest.size = bytes.size();
    manifest.chunk_size = kChunk;
    for (std::uint64_t i = 0; i < chunks; ++i) {
      const std::string_view piece = slice(i);
      manifest.chunks.push_back(sha256(piece.data(), piece.size()));
    }
  }

  // The bytes of chunk `index`, valid while the ChunkedFile lives.
  std::string_view slice(std::uint64_t index) const { return std::string_view(bytes).substr(index * kChunk, kChunk); }

  // The index of the chunk whose hash is `hash`, if any.
  std::optional<std::uint64_t> index_of(const Hash& hash) const {
    for (std::uint64_t i = 0; i < manifest.chunk_count(); ++i)
      if (manifest.chunks[i] == hash) return i;
    return std::nullopt;
  }
};

}  // namespace p2p::test
