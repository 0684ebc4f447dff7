#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/chunk_buffer_pool.h"
#include "common/chunk_reader.h"
#include "common/limits.h"
#include "tests/support/file_bytes.h"
#include "tests/support/temp_dir.h"

using namespace p2p;

using p2p::test::TempDir;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;


// SHA-256 straight from OpenSSL, independent of common/sha256.
Hash reference_sha256(const std::string& bytes) {
  Hash h;
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), h.bytes.data(), &len, EVP_sha256(), nullptr);
  return h;
}

std::string write_file(const TempDir& dir, const std::string& bytes) {
  std::string path = (dir.path() / "input").string();
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace

TEST_CASE("chunk reader yields chunk-size slices with their SHA-256") {
  const std::size_t size = GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{kChunk - 1}, std::size_t{kChunk},
                                    std::size_t{kChunk + 1}, std::size_t{7 * kChunk + 123});
  CAPTURE(size);
  TempDir dir{"p2p-chunk-reader"};
  const std::string bytes = test::patterned_bytes(size);
  Result<ChunkReader> reader = ChunkReader::open(write_file(dir, bytes), kChunk);
  REQUIRE(reader.ok());
  CHECK(reader->size() == size);
  CHECK(reader->chunk_count() == (size + kChunk - 1) / kChunk);

  std::uint64_t expected_index = 0;
  std::size_t offset = 0;
  while (true) {
    auto next = reader->next();
    REQUIRE(next.ok());
    if (!next.value()) break;
    const Chunk& chunk = *next.value();
    const std::string slice = bytes.substr(offset, kChunk);
    CHECK(chunk.index == expected_index);
    CHECK(chunk.offset == offset);
    CHECK(chunk.data.size() == slice.size());
    CHECK(chunk.data.to_string() == slice);
    CHECK(chunk.hash == reference_sha256(slice));
    offset += slice.size();
    ++expected_index;
  }
  CHECK(offset == size);
  CHECK(expected_index == reader->chunk_count());
}

TEST_CASE("chunk reader rewinds for a second pass") {
  TempDir dir{"p2p-chunk-reader"};
  Result<ChunkReader> reader = ChunkReader::open(write_file(dir, test::patterned_bytes(3 * kChunk)), kChunk);
  REQUIRE(reader.ok());
  auto first = reader->next();
  REQUIRE((first.ok() && first.value()));
  while (reader->next().value()) {
  }
  reader->rewind();
  auto again = reader->next();
  REQUIRE((again.ok() && again.value()));
  CHECK(again.value()->index == 0);
  CHECK(again.value()->hash == first.value()->hash);
}

TEST_CASE("chunk reader reports a missing file with its path and the OS reason") {
  Result<ChunkReader> reader = ChunkReader::open("/nonexistent/p2p/file", kChunk);
  REQUIRE(!reader.ok());
  CHECK(reader.status().code() == ErrorCode::kIo);
  CHECK_THAT(reader.status().message(), Catch::Contains("/nonexistent/p2p/file"));
  CHECK_THAT(reader.status().message(), Catch::Contains("No such file or directory"));
}

TEST_CASE("chunk reader refuses a directory") {
  TempDir dir{"p2p-chunk-reader"};
  Result<ChunkReader> reader = ChunkReader::open(dir.path().string(), kChunk);
  REQUIRE(!reader.ok());
  CHECK(reader.status().code() == ErrorCode::kIo);
  CHECK_THAT(reader.status().message(), Catch::Contains("directory"));
}

TEST_CASE("chunk reader reports a file that shrank while being read") {
  TempDir dir{"p2p-chunk-reader"};
  std::string path = write_file(dir, test::patterned_bytes(3 * kChunk));
  Result<ChunkReader> reader = ChunkReader::open(path, kChunk);
  REQUIRE(reader.ok());
  std::filesystem::resize_file(path, kChunk);
  REQUIRE(reader->next().ok());  // chunk 0 is still whole
  auto next = reader->next();
  REQUIRE(!next.ok());
  CHECK(next.status().code() == ErrorCode::kIo);
}

TEST_CASE("chunk reader reads each chunk into a pooled buffer that goes back when the chunk is sent") {
  TempDir dir;
  const std::string bytes = p2p::test::patterned_bytes(2 * kPooledBytes);
  Result<ChunkReader> reader = ChunkReader::open(write_file(dir, bytes), static_cast<std::uint32_t>(kPooledBytes));
  REQUIRE(reader.ok());
  ChunkBufferPool& pool = ChunkBufferPool::instance();
  pool.give(pool.take(kPooledBytes), kPooledBytes);  // at least one kept, whatever ran before
  const std::size_t before = pool.kept();
  {
    auto chunk = reader->next();
    REQUIRE(chunk.ok());
    REQUIRE(chunk.value());
    CHECK(chunk.value()->data.size() == kPooledBytes);
    CHECK(pool.kept() == before - 1);  // taken from the pool, not fresh memory
  }
  CHECK(pool.kept() == before);  // ZeroMQ's free function gave it back
}
