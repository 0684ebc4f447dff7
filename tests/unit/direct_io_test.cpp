#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>


#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/direct_io.h"
#include "tests/support/temp_dir.h"
#include "tests/support/file_bytes.h"
#include "tests/support/page_cache.h"
#include "tests/support/ramfs.h"

using namespace p2p;
namespace fs = std::filesystem;

using p2p::test::read_bytes;
using p2p::test::write_bytes;

TEST_CASE("direct writes of any size read back exactly once the file is truncated to its size") {
  p2p::test::TempDir dir("p2p-direct-io");
  for (std::size_t size : {std::size_t{1}, kDirectAlignment - 1, kDirectAlignment, kDirectAlignment + 1,
                           std::size_t{(1 << 20) + 3}}) {
    // Not "f" + to_string(size): GCC 12 warns falsely on it (-Wrestrict, its bug 105329).
    const std::string path = (dir.path() / std::to_string(size)).string();
    const std::string bytes = test::patterned_bytes(size, static_cast<int>(size));
    bool direct = false;
    int fd = open_maybe_direct(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644, true, &direct);
    REQUIRE(fd >= 0);
    DirectWriter writer;
    REQUIRE(writer.pwrite(fd, direct, bytes.data(), bytes.size(), 0, path).ok());
    // A direct write is padded to the block: the caller trims it.
    if (direct) CHECK(fs::file_size(path) % kDirectAlignment == 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    ::close(fd);
    CHECK(read_bytes(path) == bytes);

    Result<zmq::message_t> read = read_direct(path, 4 << 20);
    REQUIRE(read.ok());
    CHECK(read->size() == size);
    CHECK(std::string(static_cast<const char*>(read->data()), read->size()) == bytes);
  }
}

TEST_CASE("a file system without O_DIRECT gets ordinary writes, not a failed create") {
  p2p::test::TempDir dir("p2p-direct-io");
  const int code = test::in_ramfs(dir.path(), [&] {
    const std::string path = (dir.path() / "chunk").string();
    const std::string bytes = test::patterned_bytes(kDirectMinBytes + 3, 7);
    bool direct = true;
    int fd = open_maybe_direct(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644, true, &direct);
    if (fd < 0 || direct) return 1;
    DirectWriter writer;
    const bool written = writer.pwrite(fd, direct, bytes.data(), bytes.size(), 0, path).ok();
    ::close(fd);
    return written && read_bytes(path) == bytes ? 0 : 2;
  });
  if (code == test::kNoRamfs) {
    WARN("not checked: mounting a ramfs needs root");
    SUCCEED();
    return;
  }
  CHECK(code == 0);
}

TEST_CASE("direct writes at aligned offsets build one file block by block") {
  p2p::test::TempDir dir("p2p-direct-io");
  const std::string path = (dir.path() / "blocks").string();
  const std::size_t block = 4 * kDirectAlignment;
  const std::string bytes = test::patterned_bytes(3 * block + 100, 9);
  bool direct = false;
  int fd = open_maybe_direct(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, true, &direct);
  REQUIRE(fd >= 0);
  DirectWriter writer;
  for (std::size_t i : {3, 1, 0, 2}) {
    const std::string piece = bytes.substr(i * block, block);
    REQUIRE(writer.pwrite(fd, direct, piece.data(), piece.size(), i * block, path).ok());
  }
  REQUIRE(::ftruncate(fd, static_cast<off_t>(bytes.size())) == 0);
  ::close(fd);
  CHECK(read_bytes(path) == bytes);
}

TEST_CASE("a direct write at an unaligned offset is refused, not corrupted") {
  p2p::test::TempDir dir("p2p-direct-io");
  const std::string path = (dir.path() / "unaligned").string();
  bool direct = false;
  int fd = open_maybe_direct(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, true, &direct);
  REQUIRE(fd >= 0);
  if (direct) {
    DirectWriter writer;
    const std::string bytes = test::patterned_bytes(100, 1);
    CHECK_FALSE(writer.pwrite(fd, true, bytes.data(), bytes.size(), 17, path).ok());
  }
  ::close(fd);
  SUCCEED("O_DIRECT is not available on this file system");
}

TEST_CASE("read_direct refuses a file larger than the limit and a missing one") {
  p2p::test::TempDir dir("p2p-direct-io");
  const fs::path path = dir.path() / "big";
  std::ofstream(path, std::ios::binary) << test::patterned_bytes(5000, 3);
  Result<zmq::message_t> big = read_direct(path.string(), 4096);
  CHECK(big.status().code() == ErrorCode::kIo);
  Result<zmq::message_t> missing = read_direct((dir.path() / "none").string(), 4096);
  CHECK(missing.status().code() == ErrorCode::kIo);
}

TEST_CASE("an empty file reads back as an empty message") {
  p2p::test::TempDir dir("p2p-direct-io");
  const fs::path path = dir.path() / "empty";
  std::ofstream(path, std::ios::binary).flush();
  Result<zmq::message_t> read = read_direct(path.string(), 4096);
  REQUIRE(read.ok());
  CHECK(read->size() == 0);
}

TEST_CASE("read_direct reads a small file through the page cache and a large one past it") {
  p2p::test::TempDir dir("p2p-direct-io");
  const fs::path small = dir.path() / "small";
  const fs::path large = dir.path() / "large";
  const std::string small_bytes = test::patterned_bytes(kDirectMinBytes - 1, 1);
  const std::string large_bytes = test::patterned_bytes(kDirectMinBytes, 2);
  write_bytes(small, small_bytes);
  write_bytes(large, large_bytes);
  for (const fs::path& path : {small, large}) {
    REQUIRE(p2p::test::evict_from_page_cache(path));
    if (p2p::test::direct_io_supported(dir.path())) REQUIRE(p2p::test::cached_pages(path) == std::size_t{0});
  }

  Result<zmq::message_t> a = read_direct(small.string(), 4 << 20);
  Result<zmq::message_t> b = read_direct(large.string(), 4 << 20);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(std::string(static_cast<const char*>(a->data()), a->size()) == small_bytes);
  CHECK(std::string(static_cast<const char*>(b->data()), b->size()) == large_bytes);
  CHECK(p2p::test::cached_pages(small) == (small_bytes.size() + kDirectAlignment - 1) / kDirectAlignment);
  // Without O_DIRECT (tmpfs) the page cache is where the file lives.
  if (p2p::test::direct_io_supported(dir.path())) CHECK(p2p::test::cached_pages(large) == std::size_t{0});
}

TEST_CASE("read_cached_from reads a large file through the page cache, so the next read is served from memory") {
  p2p::test::TempDir dir("p2p-direct-io");
  const fs::path large = dir.path() / "large";
  const std::string bytes = test::patterned_bytes(kDirectMinBytes + 5000, 3);
  write_bytes(large, bytes);
  REQUIRE(p2p::test::evict_from_page_cache(large));
  const std::size_t pages = (bytes.size() + kDirectAlignment - 1) / kDirectAlignment;

  // A check of what is on disk (read_direct_from) leaves nothing cached ...
  int fd = ::open(large.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  Result<zmq::message_t> checked = read_direct_from(fd, large.string(), 4 << 20);
  REQUIRE(checked.ok());
  CHECK(std::string(static_cast<const char*>(checked->data()), checked->size()) == bytes);
  if (p2p::test::direct_io_supported(dir.path())) CHECK(p2p::test::cached_pages(large) == std::size_t{0});

  // ... and a read for a get leaves the whole file cached.
  fd = ::open(large.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  Result<zmq::message_t> served = read_cached_from(fd, large.string(), 4 << 20);
  REQUIRE(served.ok());
  CHECK(std::string(static_cast<const char*>(served->data()), served->size()) == bytes);
  CHECK(p2p::test::cached_pages(large) == pages);
}

TEST_CASE("read_cached_from refuses a file larger than the limit and names it") {
  p2p::test::TempDir dir("p2p-direct-io");
  const fs::path large = dir.path() / "large";
  write_bytes(large, test::patterned_bytes(kDirectMinBytes + 1, 4));
  const int fd = ::open(large.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  Result<zmq::message_t> r = read_cached_from(fd, large.string(), kDirectMinBytes);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kIo);
  CHECK(r.status().message().find(large.string()) != std::string::npos);
}
