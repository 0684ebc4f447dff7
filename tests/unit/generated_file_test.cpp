#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "client/load/generated_file.h"
#include "common/chunk_buffer_pool.h"
#include "common/sha256.h"

using p2p::client::load::GeneratedFile;

namespace {

constexpr std::uint32_t kChunk = 16 * 1024;

struct Read {
  std::string bytes;
  std::vector<std::uint64_t> sizes;
  bool hashes_match = true;
  bool offsets_match = true;
};

Read read_all(GeneratedFile& file) {
  Read r;
  for (std::uint64_t i = 0;; ++i) {
    auto next = file.next();
    REQUIRE(next.ok());
    if (!next.value()) break;
    const p2p::Chunk& c = *next.value();
    r.offsets_match = r.offsets_match && c.index == i && c.offset == i * kChunk;
    r.hashes_match = r.hashes_match && c.hash == p2p::sha256(c.data.data(), c.data.size());
    r.sizes.push_back(c.data.size());
    r.bytes.append(static_cast<const char*>(c.data.data()), c.data.size());
  }
  return r;
}

}  // namespace

TEST_CASE("a generated file gives the same bytes for the same seed, every time") {
  GeneratedFile a(42, 3 * kChunk + 5, kChunk), b(42, 3 * kChunk + 5, kChunk);
  const Read ra = read_all(a);
  CHECK(ra.bytes == read_all(b).bytes);
  a.rewind();
  CHECK(read_all(a).bytes == ra.bytes);
}

TEST_CASE("generated files with different seeds differ") {
  GeneratedFile a(1, 2 * kChunk, kChunk), b(2, 2 * kChunk, kChunk);
  CHECK(read_all(a).bytes != read_all(b).bytes);
}

TEST_CASE("a generated file's chunks differ from one another") {
  GeneratedFile a(5, 2 * kChunk, kChunk);
  const Read r = read_all(a);
  CHECK(r.bytes.substr(0, kChunk) != r.bytes.substr(kChunk));
}

TEST_CASE("a generated file has its size in chunks of chunk_size, the last one short") {
  GeneratedFile file(9, 2 * kChunk + 100, kChunk);
  CHECK(file.size() == 2 * kChunk + 100);
  CHECK(file.chunk_size() == kChunk);
  const Read r = read_all(file);
  CHECK(r.sizes == std::vector<std::uint64_t>{kChunk, kChunk, 100});
  CHECK(r.offsets_match);
  CHECK(r.hashes_match);  // every chunk's hash is the SHA-256 of its bytes
}

TEST_CASE("a generated file's SHA-256 is that of the bytes it streams") {
  for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{kChunk}, std::uint64_t{5 * kChunk + 77}}) {
    INFO(size);
    GeneratedFile file(77, size, kChunk);
    const Read r = read_all(file);
    CHECK(r.bytes.size() == size);
    CHECK(file.sha256() == p2p::sha256(r.bytes.data(), r.bytes.size()));
  }
}

TEST_CASE("an empty generated file streams no chunk") {
  GeneratedFile file(3, 0, kChunk);
  auto next = file.next();
  REQUIRE(next.ok());
  CHECK_FALSE(next.value().has_value());
}

TEST_CASE("a generated file's chunks are in pooled buffers that go back when the chunks are sent") {
  GeneratedFile file(7, 2 * p2p::kPooledBytes, static_cast<std::uint32_t>(p2p::kPooledBytes));
  p2p::ChunkBufferPool& pool = p2p::ChunkBufferPool::instance();
  pool.give(pool.take(p2p::kPooledBytes), p2p::kPooledBytes);  // at least one kept, whatever ran before
  const std::size_t before = pool.kept();
  {
    auto chunk = file.next();
    REQUIRE(chunk.ok());
    REQUIRE(chunk.value());
    CHECK(pool.kept() == before - 1);
  }
  CHECK(pool.kept() == before);
}
