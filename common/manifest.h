// Manifest: what a file is made of. Name, size, chunk size and the ordered
// SHA-256 of every chunk. The file id is the SHA-256 of the manifest's
// canonical encoding (docs/protocol.md "Manifest"), so a manifest fetched from
// anyone can be checked against the id it was asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "common/hash.h"
#include "common/status.h"

namespace p2p {

struct Manifest {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  std::vector<Hash> chunks;
  // Wanted number of replicas. Not part of the file id: changing k does not
  // make a new file. Appended last so older manifests decode with 0 ("default").
  std::uint32_t replicas = 0;

  MSGPACK_DEFINE(name, size, chunk_size, chunks, replicas)

  // SHA-256 of msgpack [name, size, chunk_size, chunks].
  Hash file_id() const;
  std::uint64_t chunk_count() const { return chunks.size(); }
  // Bytes in chunk `index`; REQUIRES index < chunk_count().
  std::uint32_t chunk_length(std::uint64_t index) const;
  std::uint64_t chunk_offset(std::uint64_t index) const { return index * chunk_size; }

  // The invariants every received manifest must hold: valid name, chunk
  // size within limits, exactly ceil(size / chunk_size) chunks and no more
  // than limits::kMaxChunksPerFile.
  Status validate() const;
};

// Number of chunks a file of `size` bytes needs; 0 for an empty file.
std::uint64_t chunk_count_for(std::uint64_t size, std::uint32_t chunk_size);

}  // namespace p2p
