#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "client/write_behind.h"
#include "tests/support/temp_dir.h"
#include "tests/support/file_bytes.h"

using namespace p2p;
using p2p::client::WriteBehind;
namespace fs = std::filesystem;

using p2p::test::read_bytes;
using p2p::test::write_bytes;

namespace {

}  // namespace

TEST_CASE("write-behind has every queued block at its offset once flushed") {
  p2p::test::TempDir dir("p2p-write-behind");
  const std::string path = (dir.path() / "out").string();
  const std::size_t block = 2 * kDirectAlignment;
  const std::size_t blocks = 64;
  std::string bytes(blocks * block, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7 + i / 4093) & 0xff);
  for (bool want_direct : {true, false}) {
    fs::remove(path);
    bool direct = false;
    int fd = open_maybe_direct(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644, want_direct, &direct);
    REQUIRE(fd >= 0);
    {
      // Depth 2 with 64 blocks: write() must wait for free buffers many times.
      WriteBehind behind(fd, direct, path, 2);
      for (std::size_t k = 0; k < blocks; ++k) {
        const std::size_t i = (k * 37) % blocks;  // out of order, each once
        REQUIRE(behind.write(bytes.data() + i * block, block, i * block).ok());
      }
      REQUIRE(behind.flush().ok());
      CHECK(read_bytes(path) == bytes);  // flushed means on the file, before the WriteBehind goes
    }
    ::close(fd);
  }
}

TEST_CASE("a failed write-behind write is reported by a later write or the flush") {
  p2p::test::TempDir dir("p2p-write-behind");
  const std::string path = (dir.path() / "ro").string();
  std::ofstream(path).put('x');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // every pwrite fails with EBADF
  REQUIRE(fd >= 0);
  {
    WriteBehind behind(fd, false, path, 2);
    const std::string block(1000, 'b');
    Status first = behind.write(block.data(), block.size(), 0);
    CHECK(first.ok());  // queued; the failure comes later
    Status later;
    for (int i = 0; i < 100 && later.ok(); ++i) later = behind.write(block.data(), block.size(), 0);
    Status flushed = behind.flush();
    CHECK_FALSE(flushed.ok());
    CHECK(flushed.message().find(path) != std::string::npos);
  }
  ::close(fd);
}
