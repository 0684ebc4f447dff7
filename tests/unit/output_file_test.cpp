#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/output_file.h"
#include "common/direct_io.h"
#include "common/limits.h"
#include "common/sha256.h"
#include "tests/support/temp_dir.h"
#include "tests/support/file_bytes.h"
#include "tests/support/page_cache.h"

using namespace p2p;
using p2p::client::OutputFile;

using p2p::test::read_bytes;
using p2p::test::TempDir;
using p2p::test::write_bytes;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;


struct TestFile {
  std::string bytes;
  Manifest manifest;
  explicit TestFile(std::uint64_t chunks) {
    bytes.resize(chunks * kChunk - 10);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 31 + i / 3) & 0xff);
    manifest.name = "out.bin";
    manifest.size = bytes.size();
    manifest.chunk_size = kChunk;
    for (std::uint64_t i = 0; i < chunks; ++i) manifest.chunks.push_back(sha256(slice(i).data(), slice(i).size()));
  }
  std::string slice(std::uint64_t i) const { return bytes.substr(i * kChunk, kChunk); }
};

}  // namespace

TEST_CASE("output file writes chunks to .part and renames it when finished") {
  TempDir dir{"p2p-output-file"};
  TestFile file(3);
  const std::string out = (dir.path() / "out.bin").string();
  auto opened = OutputFile::open(out, file.manifest, false);
  REQUIRE(opened.ok());
  OutputFile& f = *opened.value();
  CHECK(f.missing() == std::vector<std::uint64_t>{0, 1, 2});
  CHECK(f.reused_bytes() == 0);
  CHECK(std::filesystem::exists(out + ".part"));
  for (std::uint64_t i : {2, 0, 1}) REQUIRE(f.write(i, file.slice(i).data(), file.slice(i).size()).ok());
  REQUIRE(f.finish().ok());
  CHECK(read_bytes(out) == file.bytes);
  CHECK(!std::filesystem::exists(out + ".part"));
}

TEST_CASE("output file counts a chunk as present once it is written") {
  TempDir dir{"p2p-output-file"};
  TestFile file(4);
  auto opened = OutputFile::open((dir.path() / "out.bin").string(), file.manifest, false);
  REQUIRE(opened.ok());
  OutputFile& f = *opened.value();
  REQUIRE(f.write(2, file.slice(2).data(), file.slice(2).size()).ok());
  REQUIRE(f.write(0, file.slice(0).data(), file.slice(0).size()).ok());
  CHECK(f.missing() == std::vector<std::uint64_t>{1, 3});
  CHECK(f.reused_bytes() == 0);  // written by this process, not found on open
}

TEST_CASE("output file refuses a chunk that does not fit the file") {
  TempDir dir{"p2p-output-file"};
  TestFile file(2);
  auto opened = OutputFile::open((dir.path() / "out.bin").string(), file.manifest, false);
  REQUIRE(opened.ok());
  OutputFile& f = *opened.value();
  const std::string chunk = file.slice(0);
  CHECK(f.write(2, chunk.data(), chunk.size()).code() == ErrorCode::kBadRequest);      // past the last chunk
  CHECK(f.write(1, chunk.data(), chunk.size()).code() == ErrorCode::kBadRequest);      // longer than the last chunk
  CHECK(f.missing() == std::vector<std::uint64_t>{0, 1});
}

TEST_CASE("output file resume keeps verified chunks and discards bad ones") {
  TempDir dir{"p2p-output-file"};
  TestFile file(4);
  const std::string out = (dir.path() / "out.bin").string();
  // A .part from an interrupted get: chunk 0 good, chunk 1 damaged,
  // chunk 2 good, chunk 3 never written (the file stops short).
  std::string part = file.bytes.substr(0, 3 * kChunk);
  part[kChunk + 5] ^= 0x55;
  write_bytes(out + ".part", part);

  auto opened = OutputFile::open(out, file.manifest, false);
  REQUIRE(opened.ok());
  OutputFile& f = *opened.value();
  CHECK(f.missing() == std::vector<std::uint64_t>{1, 3});
  CHECK(f.reused_bytes() == 2 * kChunk);
  for (std::uint64_t i : f.missing()) REQUIRE(f.write(i, file.slice(i).data(), file.slice(i).size()).ok());
  REQUIRE(f.finish().ok());
  CHECK(read_bytes(out) == file.bytes);
}

TEST_CASE("output file trims a .part longer than the file") {
  TempDir dir{"p2p-output-file"};
  TestFile file(2);
  const std::string out = (dir.path() / "out.bin").string();
  write_bytes(out + ".part", file.bytes + "trailing garbage");
  auto opened = OutputFile::open(out, file.manifest, false);
  REQUIRE(opened.ok());
  CHECK(opened.value()->missing().empty());
  REQUIRE(opened.value()->finish().ok());
  CHECK(read_bytes(out) == file.bytes);
}

TEST_CASE("output file refuses an existing output without force") {
  TempDir dir{"p2p-output-file"};
  TestFile file(1);
  const std::string out = (dir.path() / "out.bin").string();
  write_bytes(out, "precious");
  auto refused = OutputFile::open(out, file.manifest, false);
  REQUIRE(!refused.ok());
  CHECK(refused.status().code() == ErrorCode::kIo);
  CHECK_THAT(refused.status().message(), Catch::Contains("--force"));
  CHECK(read_bytes(out) == "precious");
  CHECK(!std::filesystem::exists(out + ".part"));

  auto forced = OutputFile::open(out, file.manifest, true);
  REQUIRE(forced.ok());
  REQUIRE(forced.value()->write(0, file.bytes.data(), file.bytes.size()).ok());
  REQUIRE(forced.value()->finish().ok());
  CHECK(read_bytes(out) == file.bytes);
}

TEST_CASE("output file refuses a directory and an unwritable place") {
  TempDir dir{"p2p-output-file"};
  TestFile file(1);
  auto is_dir = OutputFile::open(dir.path().string(), file.manifest, true);
  REQUIRE(!is_dir.ok());
  CHECK(is_dir.status().code() == ErrorCode::kIo);
  auto nowhere = OutputFile::open((dir.path() / "no/such/dir/out.bin").string(), file.manifest, false);
  REQUIRE(!nowhere.ok());
  CHECK(nowhere.status().code() == ErrorCode::kIo);
  CHECK_THAT(nowhere.status().message(), Catch::Contains("No such file or directory"));
}

TEST_CASE("output file of an empty file is an empty file") {
  TempDir dir{"p2p-output-file"};
  Manifest empty;
  empty.name = "empty";
  empty.chunk_size = kChunk;
  const std::string out = (dir.path() / "empty").string();
  auto opened = OutputFile::open(out, empty, false);
  REQUIRE(opened.ok());
  CHECK(opened.value()->missing().empty());
  REQUIRE(opened.value()->finish().ok());
  CHECK(std::filesystem::file_size(out) == 0);
}

TEST_CASE("a small output file is written through the page cache and a large one past it") {
  TempDir dir{"p2p-output-file"};
  for (std::uint64_t chunks : {1, 5}) {
    TestFile file(chunks);
    const bool small = file.bytes.size() < kDirectMinBytes;
    REQUIRE(small == (chunks == 1));
    const std::string out = (dir.path() / std::to_string(chunks)).string();
    auto opened = OutputFile::open(out, file.manifest, false);
    REQUIRE(opened.ok());
    for (std::uint64_t i = 0; i < chunks; ++i)
      REQUIRE(opened.value()->write(i, file.slice(i).data(), file.slice(i).size()).ok());
    REQUIRE(opened.value()->finish().ok());
    const std::size_t pages = (file.bytes.size() + kDirectAlignment - 1) / kDirectAlignment;
    std::optional<std::size_t> cached = p2p::test::cached_pages(out);
    CHECK(read_bytes(out) == file.bytes);
    if (small)
      CHECK(cached == pages);
    else if (p2p::test::direct_io_supported(dir.path()))  // tmpfs: the cache is where the file lives
      CHECK(cached == std::size_t{0});
  }
}
