#include <catch2/catch.hpp>

#include "common/codec.h"
#include "common/limits.h"
#include "common/manifest.h"
#include "common/sha256.h"

using namespace p2p;

namespace {

Manifest manifest_of(std::uint64_t size, std::uint32_t chunk_size = limits::kMinChunkSize) {
  Manifest m;
  m.name = "file.bin";
  m.size = size;
  m.chunk_size = chunk_size;
  for (std::uint64_t i = 0; i < chunk_count_for(size, chunk_size); ++i) m.chunks.push_back(sha256(&i, sizeof i));
  return m;
}

}  // namespace

TEST_CASE("chunk count covers every byte at the chunk boundaries") {
  const std::uint32_t c = limits::kDefaultChunkSize;
  CHECK(chunk_count_for(0, c) == 0);
  CHECK(chunk_count_for(1, c) == 1);
  CHECK(chunk_count_for(c - 1, c) == 1);
  CHECK(chunk_count_for(c, c) == 1);
  CHECK(chunk_count_for(c + 1, c) == 2);
  CHECK(chunk_count_for(1000ull * c, c) == 1000);
}

TEST_CASE("a size near 2^64 does not wrap the chunk count") {
  const std::uint32_t c = limits::kMinChunkSize;
  CHECK(chunk_count_for(UINT64_MAX, c) == UINT64_MAX / c + 1);
  Manifest huge;  // as a peer might send it: no chunks for 2^64 - 1 bytes
  huge.name = "file.bin";
  huge.size = UINT64_MAX;
  huge.chunk_size = c;
  CHECK(huge.validate().code() == ErrorCode::kBadRequest);
}

TEST_CASE("the largest manifest allowed fits one announcement on a control link") {
  Manifest m = manifest_of(limits::kMaxChunksPerFile * limits::kMaxChunkSize, limits::kMaxChunkSize);
  m.name = std::string(limits::kMaxNameBytes, 'n');
  m.replicas = limits::kMaxReplicas;
  REQUIRE(m.validate().ok());
  proto::AnnounceBody announce;
  announce.files.push_back(m);
  announce.complete = true;
  CHECK(codec::encode(announce).size() <= static_cast<std::size_t>(limits::kMaxControlMessage));
}

TEST_CASE("a manifest of more chunks than one announcement carries is invalid") {
  Manifest m = manifest_of((limits::kMaxChunksPerFile + 1) * limits::kMinChunkSize);
  CHECK(m.validate().code() == ErrorCode::kBadRequest);
  CHECK_THAT(m.validate().message(), Catch::Contains("more than"));
}

TEST_CASE("last chunk is short and offsets are contiguous") {
  Manifest m = manifest_of(limits::kMinChunkSize * 2 + 5);
  REQUIRE(m.chunk_count() == 3);
  CHECK(m.chunk_length(0) == limits::kMinChunkSize);
  CHECK(m.chunk_length(2) == 5);
  CHECK(m.chunk_offset(2) == 2ull * limits::kMinChunkSize);
}

TEST_CASE("file id ignores the wanted replica count") {
  Manifest a = manifest_of(100000);
  Manifest b = a;
  b.replicas = 5;
  CHECK(a.file_id() == b.file_id());
}

TEST_CASE("file id changes with name, size or any chunk hash") {
  Manifest a = manifest_of(100000);
  Manifest renamed = a;
  renamed.name = "other.bin";
  Manifest changed = a;
  changed.chunks[1].bytes[0] ^= 1;
  CHECK(a.file_id() != renamed.file_id());
  CHECK(a.file_id() != changed.file_id());
}

TEST_CASE("manifest round-trips through msgpack with the same file id") {
  Manifest a = manifest_of(1 << 20);
  a.replicas = 3;
  Manifest b;
  REQUIRE(codec::decode(codec::encode(a), &b).ok());
  CHECK(b.file_id() == a.file_id());
  CHECK(b.replicas == 3);
  CHECK(b.chunks == a.chunks);
}

TEST_CASE("manifest with a wrong chunk count is invalid") {
  Manifest m = manifest_of(100000);
  m.chunks.pop_back();
  CHECK(m.validate().code() == ErrorCode::kBadRequest);
}

TEST_CASE("manifest with a chunk size out of range is invalid") {
  CHECK(manifest_of(10, limits::kMinChunkSize - 1).validate().code() == ErrorCode::kBadRequest);
  CHECK(manifest_of(10, limits::kMaxChunkSize + 1).validate().code() == ErrorCode::kBadRequest);
  CHECK(manifest_of(10, limits::kMaxChunkSize).validate().ok());
}

TEST_CASE("empty file has a valid manifest with no chunks") {
  Manifest m = manifest_of(0);
  CHECK(m.chunks.empty());
  CHECK(m.validate().ok());
}

TEST_CASE("manifest with an invalid name is invalid") {
  Manifest m = manifest_of(10);
  m.name = "../etc/passwd";
  CHECK(m.validate().code() == ErrorCode::kBadName);
}
