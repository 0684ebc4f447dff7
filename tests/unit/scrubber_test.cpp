#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/chunk_store.h"
#include "common/sha256.h"
#include "services/peer/scrubber.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

using namespace p2p;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using p2p::test::eventually;
using p2p::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t kChunk = 64 * 1024;  // large enough for the scrub's O_DIRECT read

// A store holding one file of `chunks` chunks of kChunk bytes.
struct StoredFile {
  TempDir dir{"p2p-scrubber-test"};
  ChunkStore store{dir.path(), 64 << 20};
  Manifest manifest;

  explicit StoredFile(int chunks) {
    REQUIRE(store.load().ok());
    manifest.name = "f.bin";
    manifest.chunk_size = kChunk;
    manifest.size = static_cast<std::uint64_t>(chunks) * kChunk;
    for (int i = 0; i < chunks; ++i) {
      std::string bytes(kChunk, static_cast<char>('a' + i));
      manifest.chunks.push_back(sha256(bytes.data(), bytes.size()));
      REQUIRE(store.put_chunk(manifest.chunks.back(), bytes.data(), bytes.size()).ok());
    }
    REQUIRE(store.put_manifest(manifest).ok());
  }
  fs::path chunk_file(int i) const { return ChunkStore::chunk_path_in(dir.path(), manifest.chunks[i]); }
};

}  // namespace

TEST_CASE("a scrub pass drops a chunk corrupted on disk, keeps the others, and the store reports the file lost") {
  StoredFile f(3);
  {
    std::fstream bad(f.chunk_file(2), std::ios::in | std::ios::out | std::ios::binary);
    bad.seekp(7);
    bad.put('!');
  }
  peer::Scrubber scrubber(f.store, peer::ScrubOptions{1u << 30, 1ms});
  scrubber.start();
  REQUIRE(eventually([&] { return scrubber.totals().passes >= 1; }, 10s));
  scrubber.stop();
  scrubber.join();
  const peer::Scrubber::Totals t = scrubber.totals();
  CHECK(t.dropped == 1);
  CHECK(t.bytes >= 3 * kChunk);
  CHECK(f.store.has_chunk(f.manifest.chunks[0]));
  CHECK(f.store.has_chunk(f.manifest.chunks[1]));
  CHECK_FALSE(f.store.has_chunk(f.manifest.chunks[2]));
  CHECK_FALSE(fs::exists(f.chunk_file(2)));
  CHECK(f.store.take_lost_file() == std::optional<Hash>(f.manifest.file_id()));
}

TEST_CASE("a scrubber reads no faster than its rate") {
  StoredFile f(8);
  // 256 KiB/s: a pass of these 512 KiB takes ~2 s; unpaced it takes a few ms.
  constexpr std::uint64_t kRate = 256 * 1024;
  peer::Scrubber scrubber(f.store, peer::ScrubOptions{kRate, 1ms});
  const auto started = Clock::now();
  scrubber.start();
  REQUIRE(eventually([&] { return scrubber.totals().bytes > 0; }, 10s));
  // For 300 ms, never more than the rate allows since the start, plus the
  // chunk read before each pause.
  std::uint64_t seen = 0;
  const bool exceeded = eventually(
      [&] {
        seen = scrubber.totals().bytes;
        const double allowed = std::chrono::duration<double>(Clock::now() - started).count() * kRate + kChunk;
        return static_cast<double>(seen) > allowed;
      },
      300ms, 5ms);
  INFO("read " << seen << " bytes");
  CHECK_FALSE(exceeded);
  CHECK(seen < 8 * kChunk);
}

TEST_CASE("a scrubber waits one interval before its first pass and stops at once when asked") {
  StoredFile f(1);
  peer::Scrubber scrubber(f.store, peer::ScrubOptions{1u << 30, std::chrono::hours(1)});
  scrubber.start();
  // load() has just checked every chunk: nothing is read in the first interval.
  const bool idle = !eventually([&] { return scrubber.totals().chunks > 0; }, 200ms);
  CHECK(idle);
  const auto asked = Clock::now();
  scrubber.stop();
  scrubber.join();
  CHECK(Clock::now() - asked < 2s);
}

TEST_CASE("a scrubber with a rate of 0 never reads") {
  StoredFile f(1);
  peer::Scrubber scrubber(f.store, peer::ScrubOptions{0, 1ms});
  scrubber.start();
  const bool idle = !eventually([&] { return scrubber.totals().chunks > 0; }, 200ms);
  CHECK(idle);
}

TEST_CASE("a chunk reported sent wrong is checked at once, long before the next pass, and dropped if wrong on disk") {
  StoredFile f(3);
  {
    std::fstream bad(f.chunk_file(1), std::ios::in | std::ios::out | std::ios::binary);
    bad.seekp(100);
    bad.put('!');
  }
  peer::Scrubber scrubber(f.store, peer::ScrubOptions{1u << 30, std::chrono::hours(1)});
  scrubber.start();
  REQUIRE(scrubber.suspect(f.manifest.chunks[1]));
  REQUIRE(eventually([&] { return scrubber.totals().suspects >= 1; }, 10s));
  const peer::Scrubber::Totals t = scrubber.totals();
  CHECK(t.passes == 0);
  CHECK(t.chunks == 1);  // only the reported one
  CHECK(t.dropped == 1);
  CHECK_FALSE(f.store.has_chunk(f.manifest.chunks[1]));
  CHECK_FALSE(fs::exists(f.chunk_file(1)));
  CHECK(f.store.take_lost_file() == std::optional<Hash>(f.manifest.file_id()));
}

TEST_CASE("a chunk reported sent wrong whose bytes on disk match its name is kept") {
  StoredFile f(2);
  peer::Scrubber scrubber(f.store, peer::ScrubOptions{1u << 30, std::chrono::hours(1)});
  scrubber.start();
  REQUIRE(scrubber.suspect(f.manifest.chunks[0]));
  REQUIRE(eventually([&] { return scrubber.totals().suspects >= 1; }, 10s));
  CHECK(scrubber.totals().dropped == 0);
  CHECK(f.store.has_chunk(f.manifest.chunks[0]));
  CHECK_FALSE(f.store.take_lost_file().has_value());
}

TEST_CASE("reports wait at most kMaxSuspects deep, each once, and none is taken while the scrub is off") {
  StoredFile f(1);
  {
    peer::Scrubber off(f.store, peer::ScrubOptions{0, 1ms});
    off.start();
    CHECK_FALSE(off.suspect(f.manifest.chunks[0]));
    peer::Scrubber not_started(f.store, peer::ScrubOptions{1u << 30, 1ms});
    CHECK_FALSE(not_started.suspect(f.manifest.chunks[0]));
  }
  // 1 byte/s: after its first check the thread waits out that read's pause
  // until stopped, so whatever is reported next stays queued.
  peer::Scrubber slow(f.store, peer::ScrubOptions{1, std::chrono::hours(1)});
  slow.start();
  REQUIRE(slow.suspect(f.manifest.chunks[0]));
  REQUIRE(eventually([&] { return slow.totals().suspects >= 1; }, 10s));
  std::vector<Hash> others;
  for (std::size_t i = 0; i < peer::kMaxSuspects; ++i) {
    const std::string name = "not stored " + std::to_string(i);
    others.push_back(sha256(name.data(), name.size()));
    CHECK(slow.suspect(others.back()));
  }
  CHECK(slow.suspect(others.front()));  // already waiting: still one entry
  const std::string extra = "one too many";
  CHECK_FALSE(slow.suspect(sha256(extra.data(), extra.size())));
  const auto asked = Clock::now();
  slow.stop();
  slow.join();
  CHECK(Clock::now() - asked < 2s);
  CHECK_FALSE(slow.suspect(others.front()));  // stopped
}
