// add_stored_file: puts a one-chunk file ("NAME contents") and its manifest
// into a ChunkStore, for unit tests of what a peer does with what it holds.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "common/chunk_store.h"
#include "common/limits.h"
#include "common/sha256.h"

namespace p2p::test {

// The file is held in full; its manifest asks for k = 2.
inline Manifest add_stored_file(ChunkStore& store, const std::string& name) {
  std::string chunk = name + " contents";
  Hash h = sha256(chunk.data(), chunk.size());
  REQUIRE(store.put_chunk(h, chunk.data(), chunk.size()).ok());
  Manifest m{name, chunk.size(), limits::kMinChunkSize, {h}, 2};
  REQUIRE(store.put_manifest(m).ok());
  return m;
}

}  // namespace p2p::test
