#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/chunk_store.h"
#include "common/direct_io.h"
#include "common/limits.h"
#include "common/sha256.h"
#include "tests/support/file_bytes.h"
#include "tests/support/gate.h"
#include "tests/support/numbered.h"
#include "tests/support/page_cache.h"
#include "tests/support/temp_dir.h"

using namespace p2p;
namespace fs = std::filesystem;

using p2p::test::TempDir;

namespace {

// A fresh directory under /tmp, removed with everything in it.

std::string bytes_of(std::size_t size, char seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i * 7 + i / 251);
  return s;
}

Hash hash_of(const std::string& s) { return sha256(s.data(), s.size()); }

// A valid manifest of `content` cut in kMinChunkSize pieces, and the pieces.
Manifest manifest_of(const std::string& name, const std::string& content, std::vector<std::string>* chunks) {
  Manifest m;
  m.name = name;
  m.size = content.size();
  m.chunk_size = limits::kMinChunkSize;
  for (std::size_t off = 0; off < content.size(); off += m.chunk_size) {
    std::string piece = content.substr(off, m.chunk_size);
    m.chunks.push_back(hash_of(piece));
    if (chunks) chunks->push_back(piece);
  }
  return m;
}

// Stores every piece of `m` and then `m` itself.
void store_file(ChunkStore& store, const Manifest& m, const std::vector<std::string>& pieces) {
  for (std::size_t i = 0; i < pieces.size(); ++i) REQUIRE(store.put_chunk(m.chunks[i], pieces[i].data(), pieces[i].size()).ok());
  REQUIRE(store.put_manifest(m).ok());
}

ChunkStore::LoadReport load_ok(ChunkStore& store) {
  Result<ChunkStore::LoadReport> r = store.load();
  REQUIRE(r.ok());
  return r.value();
}

// A loaded store holding one file of two chunks, the file of chunk `gone`
// deleted behind the store's back.
struct StoreMissingChunk {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store{dir.path(), 8 << 20};
  std::vector<std::string> pieces;
  Manifest m;

  explicit StoreMissingChunk(std::size_t gone) {
    load_ok(store);
    m = manifest_of("m.bin", bytes_of(limits::kMinChunkSize + 10, 'm'), &pieces);
    store_file(store, m, pieces);
    REQUIRE(fs::remove(ChunkStore::chunk_path_in(dir.path(), m.chunks[gone])));
  }
};

// Files a.bin and b.bin of two chunks each, whose first chunk is the same.
struct TwoFilesSharingAChunk {
  std::string shared = bytes_of(limits::kMinChunkSize, 's');
  std::vector<std::string> a_pieces;
  std::vector<std::string> b_pieces;
  Manifest a = manifest_of("a.bin", shared + bytes_of(limits::kMinChunkSize, 'a'), &a_pieces);
  Manifest b = manifest_of("b.bin", shared + bytes_of(limits::kMinChunkSize, 'b'), &b_pieces);
};

// A file-system sync that, once armed, holds the next commit inside it (after
// its check of the manifest's chunks, before the manifest is indexed) until
// released, for at most kHoldLimit.
class HeldSync {
 public:
  static constexpr std::chrono::seconds kHoldLimit{10};

  ChunkStore::FileSystemSync fn() {
    return [this](const fs::path&) {
      if (armed_.exchange(false)) {
        entered_.open();
        (void)released_.wait(kHoldLimit);
      }
      return Status::Ok();
    };
  }
  void arm() { armed_ = true; }
  bool wait_entered() { return entered_.wait(kHoldLimit); }
  void release() { released_.open(); }

 private:
  std::atomic<bool> armed_{false};
  test::Gate entered_;
  test::Gate released_;
};

// put_manifest(m) on a thread of its own, held in `sync`; released and
// joined when it goes out of scope, also when a check failed first.
struct HeldCommit {
  HeldSync& sync;
  Status status{ErrorCode::kInternal, "not run"};
  std::thread thread;

  HeldCommit(HeldSync& s, ChunkStore& store, const Manifest& m) : sync(s) {
    sync.arm();
    thread = std::thread([this, &store, &m] { status = store.put_manifest(m); });
  }
  ~HeldCommit() { (void)finish(); }
  Status finish() {
    sync.release();
    if (thread.joinable()) thread.join();
    return status;
  }
};

// Sets or clears the immutable attribute of `path` (chattr +i / -i): while it
// is set, unlink fails with EPERM, even for root. False where it cannot be
// set (no CAP_LINUX_IMMUTABLE, or a file system without the flag).
bool set_immutable(const fs::path& path, bool on) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

// Makes `path` immutable for its lifetime, so that the TempDir holding it can
// still be removed when a check failed first.
struct ImmutableFile {
  fs::path path;
  bool set;
  explicit ImmutableFile(fs::path p) : path(std::move(p)), set(set_immutable(path, true)) {}
  ~ImmutableFile() { release(); }
  ImmutableFile(const ImmutableFile&) = delete;
  ImmutableFile& operator=(const ImmutableFile&) = delete;
  void release() {
    if (set) set = !set_immutable(path, false);
  }
};

}  // namespace

TEST_CASE("stored chunk reads back with its exact bytes") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  std::string data = bytes_of(5000, 'a');
  Hash h = hash_of(data);
  REQUIRE(store.put_chunk(h, data.data(), data.size()).ok());
  CHECK(store.has_chunk(h));
  CHECK(store.stored_bytes() == 5000);
  CHECK(store.free_bytes() == (1 << 20) - 5000);
  Result<zmq::message_t> read = store.read_chunk(h);
  REQUIRE(read.ok());
  CHECK(read->size() == data.size());
  CHECK(read->to_string() == data);
  std::string hex = h.hex();
  CHECK(fs::exists(dir.path() / "chunks" / hex.substr(0, 2) / hex));
}

TEST_CASE("chunk with wrong hash is rejected") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  std::string data = bytes_of(100, 'a');
  Hash wrong = hash_of("something else");
  Status s = store.put_chunk(wrong, data.data(), data.size());
  CHECK(s.code() == ErrorCode::kBadChunk);
  CHECK_FALSE(store.has_chunk(wrong));
  CHECK(store.stored_bytes() == 0);
}

TEST_CASE("absent chunk reads as not found") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  CHECK(store.read_chunk(hash_of("nothing")).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("put beyond capacity is refused") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1000);
  load_ok(store);
  std::string a = bytes_of(600, 'a'), b = bytes_of(600, 'b');
  REQUIRE(store.put_chunk(hash_of(a), a.data(), a.size()).ok());
  CHECK(store.put_chunk(hash_of(b), b.data(), b.size()).code() == ErrorCode::kNoSpace);
  CHECK_FALSE(store.has_chunk(hash_of(b)));
  // A chunk already here costs nothing, so storing it again still succeeds.
  CHECK(store.put_chunk(hash_of(a), a.data(), a.size()).ok());
  CHECK(store.stored_bytes() == 600);
  CHECK(store.free_bytes() == 400);
}

TEST_CASE("concurrent puts of the same chunk store it once") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  std::string data = bytes_of(20000, 'c');
  Hash h = hash_of(data);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (store.put_chunk(h, data.data(), data.size()).ok()) ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  CHECK(store.chunk_count() == 1);
  CHECK(store.stored_bytes() == data.size());
  CHECK(fs::is_empty(dir.path() / "tmp"));
}

TEST_CASE("store reloads its chunks and manifests after restart") {
  TempDir dir{"p2p-chunk-store-test"};
  std::vector<std::string> chunks;
  Manifest m = manifest_of("report.pdf", bytes_of(40000, 'r'), &chunks);
  {
    ChunkStore store(dir.path(), 1 << 20);
    load_ok(store);
    for (const auto& c : chunks) REQUIRE(store.put_chunk(hash_of(c), c.data(), c.size()).ok());
    REQUIRE(store.put_manifest(m).ok());
    CHECK(store.complete(m));
  }
  ChunkStore store(dir.path(), 1 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  CHECK(report.chunks == chunks.size());
  CHECK(report.manifests == 1);
  CHECK(report.dropped_chunks.empty());
  CHECK(report.incomplete_manifests.empty());
  CHECK(store.stored_bytes() == 40000);
  Result<Manifest> back = store.manifest(m.file_id());
  REQUIRE(back.ok());
  CHECK(back->name == "report.pdf");
  CHECK(back->chunks == m.chunks);
  CHECK(store.complete(back.value()));
  CHECK(store.file_ids().size() == 1);
}

TEST_CASE("files committed from many threads at once are all there after a restart") {
  // Their commits share flushes (SyncGroup): every one succeeds and is found
  // after a reload. (That a shared flush began after each caller's writes is
  // sync_group_test's; the TSan build runs this one for races.)
  TempDir dir{"p2p-chunk-store-test"};
  constexpr int kThreads = 8;
  constexpr int kFilesEach = 6;
  std::vector<Manifest> committed(kThreads * kFilesEach);
  {
    ChunkStore store(dir.path(), 8 << 20);
    load_ok(store);
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kFilesEach; ++i) {
          std::vector<std::string> chunks;
          Manifest m = manifest_of(p2p::test::numbered("f", t * kFilesEach + i),
                                   bytes_of(5000, static_cast<char>(t * kFilesEach + i)), &chunks);
          for (const auto& c : chunks)
            if (!store.put_chunk(hash_of(c), c.data(), c.size()).ok()) ++failed;
          if (!store.put_manifest(m).ok()) ++failed;
          committed[t * kFilesEach + i] = m;
        }
      });
    for (auto& t : threads) t.join();
    REQUIRE(failed == 0);
  }
  ChunkStore store(dir.path(), 8 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  CHECK(report.manifests == committed.size());
  CHECK(report.incomplete_manifests.empty());
  for (const Manifest& m : committed) {
    Result<Manifest> back = store.manifest(m.file_id());
    REQUIRE(back.ok());
    CHECK(store.complete(back.value()));
  }
  CHECK(fs::is_empty(dir.path() / "tmp"));
}

TEST_CASE("corrupted chunk is dropped on load") {
  TempDir dir{"p2p-chunk-store-test"};
  std::string good = bytes_of(3000, 'g'), bad = bytes_of(3000, 'b');
  {
    ChunkStore store(dir.path(), 1 << 20);
    load_ok(store);
    REQUIRE(store.put_chunk(hash_of(good), good.data(), good.size()).ok());
    REQUIRE(store.put_chunk(hash_of(bad), bad.data(), bad.size()).ok());
    // Files use both chunks, so only the corruption can remove one.
    REQUIRE(store.put_manifest(manifest_of("good.bin", good, nullptr)).ok());
    REQUIRE(store.put_manifest(manifest_of("bad.bin", bad, nullptr)).ok());
  }
  std::string hex = hash_of(bad).hex();
  fs::path bad_path = dir.path() / "chunks" / hex.substr(0, 2) / hex;
  REQUIRE(test::flip_bits(bad_path, 100));
  ChunkStore store(dir.path(), 1 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  REQUIRE(report.dropped_chunks.size() == 1);
  CHECK(report.dropped_chunks[0] == hash_of(bad));
  CHECK(report.chunks == 1);
  CHECK_FALSE(store.has_chunk(hash_of(bad)));
  CHECK_FALSE(fs::exists(bad_path));
  CHECK(store.has_chunk(hash_of(good)));
  CHECK(store.stored_bytes() == good.size());
}

TEST_CASE("incomplete manifest is reported") {
  TempDir dir{"p2p-chunk-store-test"};
  std::vector<std::string> chunks;
  Manifest m = manifest_of("movie.mkv", bytes_of(50000, 'm'), &chunks);
  {
    ChunkStore store(dir.path(), 1 << 20);
    load_ok(store);
    for (std::size_t i = 0; i < chunks.size(); ++i)
      REQUIRE(store.put_chunk(hash_of(chunks[i]), chunks[i].data(), chunks[i].size()).ok());
    REQUIRE(store.put_manifest(m).ok());
  }
  // Its first chunk lost on disk while the peer was down.
  REQUIRE(fs::remove(ChunkStore::chunk_path_in(dir.path(), m.chunks[0])));
  ChunkStore store(dir.path(), 1 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  REQUIRE(report.incomplete_manifests.size() == 1);
  CHECK(report.incomplete_manifests[0] == m.file_id());
  CHECK(report.manifests == 1);
  CHECK_FALSE(store.complete(m));
  std::vector<Hash> missing = store.missing_chunks(m);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0] == m.chunks[0]);
}

TEST_CASE("undecodable manifest is dropped on load") {
  TempDir dir{"p2p-chunk-store-test"};
  {
    ChunkStore store(dir.path(), 1 << 20);
    load_ok(store);
  }
  fs::path junk = dir.path() / "manifests" / hash_of("junk").hex();
  std::ofstream(junk) << "not msgpack at all";
  ChunkStore store(dir.path(), 1 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  CHECK(report.dropped_manifests == 1);
  CHECK(report.manifests == 0);
  CHECK_FALSE(fs::exists(junk));
  CHECK(store.file_ids().empty());
}

TEST_CASE("leftover temporary files are removed on load") {
  TempDir dir{"p2p-chunk-store-test"};
  fs::create_directories(dir.path() / "tmp");
  std::ofstream(dir.path() / "tmp" / "half-written") << "partial";
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  CHECK(fs::is_empty(dir.path() / "tmp"));
}

TEST_CASE("capacity defaults to free space plus stored bytes") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 0);
  load_ok(store);
  CHECK(store.capacity() > 0);
  CHECK(store.free_bytes() == store.capacity());
}

TEST_CASE("removing a file deletes its manifest and its chunks no other file uses") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 8 << 20);
  load_ok(store);
  std::vector<std::string> shared_pieces, own_pieces;
  // Two files that share their first chunk.
  const std::string common = bytes_of(limits::kMinChunkSize, 'c');
  Manifest keep = manifest_of("keep.bin", common + bytes_of(1000, 'k'), &shared_pieces);
  Manifest drop = manifest_of("drop.bin", common + bytes_of(limits::kMinChunkSize + 500, 'd'), &own_pieces);
  for (std::size_t i = 0; i < shared_pieces.size(); ++i)
    REQUIRE(store.put_chunk(keep.chunks[i], shared_pieces[i].data(), shared_pieces[i].size()).ok());
  for (std::size_t i = 0; i < own_pieces.size(); ++i)
    REQUIRE(store.put_chunk(drop.chunks[i], own_pieces[i].data(), own_pieces[i].size()).ok());
  REQUIRE(store.put_manifest(keep).ok());
  REQUIRE(store.put_manifest(drop).ok());
  const std::uint64_t before = store.stored_bytes();

  Result<ChunkStore::RemoveReport> removed = store.remove_file(drop.file_id());
  REQUIRE(removed.ok());
  CHECK(removed->chunks == 2);
  CHECK(removed->shared == 1);
  CHECK(removed->bytes == own_pieces[1].size() + own_pieces[2].size());
  CHECK(store.stored_bytes() == before - removed->bytes);
  CHECK(store.manifest(drop.file_id()).status().code() == ErrorCode::kNotFound);
  CHECK_FALSE(store.has_chunk(drop.chunks[1]));
  CHECK_FALSE(store.has_chunk(drop.chunks[2]));
  CHECK(store.complete(keep));  // the shared chunk stays
  CHECK_FALSE(fs::exists(dir.path() / "manifests" / drop.file_id().hex()));
  CHECK_FALSE(fs::exists(dir.path() / "chunks" / drop.chunks[1].hex().substr(0, 2) / drop.chunks[1].hex()));

  // A restart sees the same store.
  ChunkStore reloaded(dir.path(), 8 << 20);
  ChunkStore::LoadReport report = load_ok(reloaded);
  CHECK(report.manifests == 1);
  CHECK(reloaded.stored_bytes() == store.stored_bytes());
}

TEST_CASE("a manifest whose chunk is not here is refused") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  std::vector<std::string> chunks;
  Manifest m = manifest_of("half.bin", bytes_of(2 * limits::kMinChunkSize, 'h'), &chunks);
  REQUIRE(store.put_chunk(m.chunks[0], chunks[0].data(), chunks[0].size()).ok());
  CHECK(store.put_manifest(m).code() == ErrorCode::kMissingChunks);
  CHECK(store.file_ids().empty());
}

// Two files share a chunk. One thread stores one of them again and again (its
// caller's check long past), another removes and restores the other: a
// removal must never unlink a chunk a manifest being written names, so every
// manifest stored is complete. Without that, the syncfs inside put_manifest
// (~1 ms) lets a removal in within a few rounds.
TEST_CASE("removing a file keeps the chunks of a manifest being written") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 8 << 20);
  load_ok(store);
  TwoFilesSharingAChunk files;
  const Manifest& a = files.a;
  const Manifest& b = files.b;
  const std::vector<std::string>& a_chunks = files.a_pieces;
  const std::vector<std::string>& b_chunks = files.b_pieces;
  auto put_all = [&](const Manifest& m, const std::vector<std::string>& pieces) {
    for (std::size_t i = 0; i < pieces.size(); ++i)
      if (!store.put_chunk(m.chunks[i], pieces[i].data(), pieces[i].size()).ok()) return false;
    return true;
  };
  REQUIRE(put_all(a, a_chunks));
  REQUIRE(store.put_manifest(a).ok());

  std::atomic<bool> done{false};
  std::thread remover([&] {
    while (!done) {
      (void)store.remove_file(a.file_id());
      if (put_all(a, a_chunks)) (void)store.put_manifest(a);
    }
  });
  int stored = 0;
  int incomplete = 0;
  for (int round = 0; round < 200; ++round) {
    if (!put_all(b, b_chunks)) continue;
    if (store.put_manifest(b).ok()) {
      ++stored;
      if (!store.complete(b)) ++incomplete;
    }
    (void)store.remove_file(b.file_id());
  }
  done = true;
  remover.join();
  CHECK(stored > 0);
  CHECK(incomplete == 0);
}

TEST_CASE("a chunk read while its file is removed is not_found and never an I/O error") {
  // not_found costs a fetch one chunk; an I/O error would drop the whole holder.
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 8 << 20);
  load_ok(store);
  std::vector<std::string> pieces;
  Manifest m = manifest_of("raced.bin", bytes_of(limits::kMinChunkSize, 'r'), &pieces);
  std::atomic<bool> done{false};
  std::thread remover([&] {
    for (int round = 0; round < 300; ++round) {
      if (store.put_chunk(m.chunks[0], pieces[0].data(), pieces[0].size()).ok() && store.put_manifest(m).ok())
        (void)store.remove_file(m.file_id());
    }
    done = true;
  });
  int read = 0;
  int not_found = 0;
  std::vector<Status> others;
  while (!done) {
    Result<zmq::message_t> r = store.read_chunk(m.chunks[0]);
    if (r.ok()) {
      ++read;
      if (r->to_string() != pieces[0]) others.push_back({ErrorCode::kBadChunk, "wrong bytes"});
    } else if (r.status().code() == ErrorCode::kNotFound) {
      ++not_found;
    } else {
      others.push_back(r.status());
    }
  }
  remover.join();
  CHECK(read > 0);
  CHECK(not_found > 0);
  for (const Status& s : others) FAIL_CHECK(s.to_string());
}

TEST_CASE("a chunk deleted from disk behind the store is not_found, leaves the index, and its files are reported lost once") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 8 << 20);
  load_ok(store);
  // Two files share the chunk that will go; a third does not use it.
  std::vector<std::string> a_pieces, b_pieces, c_pieces;
  const std::string common = bytes_of(limits::kMinChunkSize, 'c');
  Manifest a = manifest_of("a.bin", common + bytes_of(1000, 'a'), &a_pieces);
  Manifest b = manifest_of("b.bin", common + bytes_of(2000, 'b'), &b_pieces);
  Manifest c = manifest_of("c.bin", bytes_of(3000, 'x'), &c_pieces);
  store_file(store, a, a_pieces);
  store_file(store, b, b_pieces);
  store_file(store, c, c_pieces);
  CHECK_FALSE(store.take_lost_file().has_value());
  const std::uint64_t before = store.stored_bytes();

  const Hash gone = a.chunks[0];
  REQUIRE(fs::remove(ChunkStore::chunk_path_in(dir.path(), gone)));
  Result<zmq::message_t> read = store.read_chunk(gone);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == ErrorCode::kNotFound);  // never kIo: a get keeps this holder
  CHECK_FALSE(store.has_chunk(gone));
  CHECK(store.stored_bytes() == before - common.size());
  CHECK(store.read_chunk(a.chunks[1]).ok());  // the other chunks are still served

  std::set<Hash> lost;
  while (std::optional<Hash> id = store.take_lost_file()) CHECK(lost.insert(*id).second);
  CHECK(lost == std::set<Hash>{a.file_id(), b.file_id()});
  CHECK_FALSE(store.complete(a));
  CHECK(store.manifest(a.file_id()).ok());  // kept, as load() keeps an incomplete one

  // Stored again, it is served again, and nothing more is reported.
  REQUIRE(store.put_chunk(gone, common.data(), common.size()).ok());
  CHECK(store.read_chunk(gone).ok());
  CHECK(store.complete(a));
  CHECK_FALSE(store.take_lost_file().has_value());
}

TEST_CASE("a file made whole again before its loss is reported is not reported") {
  StoreMissingChunk s(1);
  CHECK(s.store.read_chunk(s.m.chunks[1]).status().code() == ErrorCode::kNotFound);
  REQUIRE(s.store.put_chunk(s.m.chunks[1], s.pieces[1].data(), s.pieces[1].size()).ok());
  CHECK_FALSE(s.store.take_lost_file().has_value());
}

TEST_CASE("a scrub drops a chunk whose bytes on disk no longer match its name and reports its file lost") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 8 << 20);
  load_ok(store);
  std::vector<std::string> pieces;
  // Chunks of 64 KiB: read with O_DIRECT, as the scrub reads every large one.
  Manifest m;
  m.name = "m.bin";
  m.chunk_size = 64 * 1024;
  for (char seed : {'p', 'q'}) {
    pieces.push_back(bytes_of(m.chunk_size, seed));
    m.chunks.push_back(hash_of(pieces.back()));
  }
  m.size = 2 * m.chunk_size;
  store_file(store, m, pieces);
  for (const Hash& h : m.chunks) {
    Result<ChunkStore::ScrubOutcome> ok = store.scrub_chunk(h);
    REQUIRE(ok.ok());
    CHECK(ok->bytes == m.chunk_size);
    CHECK_FALSE(ok->dropped);
  }
  // One byte flipped in the chunk's file, behind the store.
  const fs::path bad = ChunkStore::chunk_path_in(dir.path(), m.chunks[1]);
  REQUIRE(test::flip_bits(bad, 1000));
  const std::uint64_t before = store.stored_bytes();
  Result<ChunkStore::ScrubOutcome> dropped = store.scrub_chunk(m.chunks[1]);
  REQUIRE(dropped.ok());
  CHECK(dropped->dropped);
  CHECK_FALSE(fs::exists(bad));
  CHECK_FALSE(store.has_chunk(m.chunks[1]));
  CHECK(store.stored_bytes() == before - m.chunk_size);
  CHECK(store.has_chunk(m.chunks[0]));
  CHECK(store.take_lost_file() == std::optional<Hash>(m.file_id()));
  CHECK_FALSE(store.take_lost_file().has_value());
  // A chunk no longer stored is not read.
  Result<ChunkStore::ScrubOutcome> gone = store.scrub_chunk(m.chunks[1]);
  REQUIRE(gone.ok());
  CHECK(gone->bytes == 0);
  CHECK_FALSE(gone->dropped);
}

TEST_CASE("a scrub keeps a corrupt chunk of a file being committed, and drops it once the file is indexed") {
  // Dropped during the commit, the chunk would be named by a manifest
  // indexed after the drop, and no lost file would cover it.
  TempDir dir{"p2p-chunk-store-test"};
  HeldSync sync;
  ChunkStore store(dir.path(), 8 << 20, sync.fn());
  load_ok(store);
  std::vector<std::string> pieces;
  Manifest m = manifest_of("m.bin", bytes_of(2 * limits::kMinChunkSize, 'c'), &pieces);
  for (std::size_t i = 0; i < pieces.size(); ++i)
    REQUIRE(store.put_chunk(m.chunks[i], pieces[i].data(), pieces[i].size()).ok());
  const fs::path bad = ChunkStore::chunk_path_in(dir.path(), m.chunks[1]);
  REQUIRE(test::flip_bits(bad, 100));

  HeldCommit commit(sync, store, m);
  REQUIRE(sync.wait_entered());
  Result<ChunkStore::ScrubOutcome> during = store.scrub_chunk(m.chunks[1]);
  REQUIRE(during.ok());
  CHECK_FALSE(during->dropped);
  CHECK(store.has_chunk(m.chunks[1]));
  CHECK(fs::exists(bad));
  REQUIRE(commit.finish().ok());

  Result<ChunkStore::ScrubOutcome> after = store.scrub_chunk(m.chunks[1]);
  REQUIRE(after.ok());
  CHECK(after->dropped);
  CHECK_FALSE(fs::exists(bad));
  CHECK(store.take_lost_file() == std::optional<Hash>(m.file_id()));
}

TEST_CASE("removing a file keeps a chunk it shares with a file being committed") {
  TempDir dir{"p2p-chunk-store-test"};
  HeldSync sync;
  ChunkStore store(dir.path(), 8 << 20, sync.fn());
  load_ok(store);
  TwoFilesSharingAChunk files;
  const Manifest& b = files.b;
  store_file(store, files.a, files.a_pieces);
  for (std::size_t i = 0; i < files.b_pieces.size(); ++i)
    REQUIRE(store.put_chunk(b.chunks[i], files.b_pieces[i].data(), files.b_pieces[i].size()).ok());

  HeldCommit commit(sync, store, b);
  REQUIRE(sync.wait_entered());
  Result<ChunkStore::RemoveReport> removed = store.remove_file(files.a.file_id());
  REQUIRE(removed.ok());
  CHECK(removed->chunks == 1);
  CHECK(removed->shared == 1);
  CHECK(store.has_chunk(b.chunks[0]));
  REQUIRE(commit.finish().ok());
  CHECK(store.complete(b));
  Result<zmq::message_t> read = store.read_chunk(b.chunks[0]);
  REQUIRE(read.ok());
  CHECK(read->to_string() == files.shared);
}

TEST_CASE("a scrub drops a chunk whose file is gone from disk") {
  StoreMissingChunk s(0);
  Result<ChunkStore::ScrubOutcome> outcome = s.store.scrub_chunk(s.m.chunks[0]);
  REQUIRE(outcome.ok());
  CHECK(outcome->dropped);
  CHECK_FALSE(s.store.has_chunk(s.m.chunks[0]));
  CHECK(s.store.chunk_hashes() == std::vector<Hash>{s.m.chunks[1]});
  CHECK(s.store.take_lost_file() == std::optional<Hash>(s.m.file_id()));
}

TEST_CASE("a scrub forgets a corrupt chunk it cannot delete, and the next start drops it") {
  TempDir dir{"p2p-chunk-store-test"};
  const std::string good = bytes_of(3000, 'g'), bad = bytes_of(3000, 'b');
  const Manifest good_m = manifest_of("good.bin", good, nullptr);
  const Manifest bad_m = manifest_of("bad.bin", bad, nullptr);
  const fs::path bad_path = ChunkStore::chunk_path_in(dir.path(), hash_of(bad));
  bool was_pinned = false;
  {
    ChunkStore store(dir.path(), 1 << 20);
    load_ok(store);
    store_file(store, good_m, {good});
    store_file(store, bad_m, {bad});
    REQUIRE(test::flip_bits(bad_path, 100));
    ImmutableFile pinned(bad_path);
    // As root this holds on ext4, xfs, btrfs and tmpfs; elsewhere the unlink
    // succeeds and only the checks that do not depend on it run.
    was_pinned = pinned.set;
    if (!pinned.set) WARN("cannot make a chunk file immutable here: the failing unlink is not exercised");
    Result<ChunkStore::ScrubOutcome> outcome = store.scrub_chunk(hash_of(bad));
    REQUIRE(outcome.ok());
    CHECK(outcome->dropped);
    // Forgotten although its bytes are still on disk: never served, not counted.
    CHECK(fs::exists(bad_path) == pinned.set);
    CHECK_FALSE(store.has_chunk(hash_of(bad)));
    CHECK(store.read_chunk(hash_of(bad)).status().code() == ErrorCode::kNotFound);
    CHECK(store.stored_bytes() == good.size());
    CHECK(store.take_lost_file() == std::optional<Hash>(bad_m.file_id()));
    CHECK_FALSE(store.take_lost_file().has_value());
    pinned.release();
    REQUIRE_FALSE(pinned.set);
  }
  // The next start re-hashes what is left on disk and drops the corrupt file.
  ChunkStore store(dir.path(), 1 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  CHECK(report.dropped_chunks.size() == (was_pinned ? 1u : 0u));
  CHECK_FALSE(fs::exists(bad_path));
  CHECK_FALSE(store.has_chunk(hash_of(bad)));
  CHECK(report.incomplete_manifests == std::vector<Hash>{bad_m.file_id()});
  CHECK(store.has_chunk(hash_of(good)));
  CHECK(store.stored_bytes() == good.size());
}

TEST_CASE("a chunk that cannot be deleted stays counted, and a later start deletes it once it can") {
  TempDir dir{"p2p-chunk-store-test"};
  std::vector<std::string> pieces;
  const Manifest m = manifest_of("m.bin", bytes_of(limits::kMinChunkSize + 10, 'm'), &pieces);
  const fs::path stuck = ChunkStore::chunk_path_in(dir.path(), m.chunks[0]);
  std::optional<ImmutableFile> pinned;  // set once the chunk exists, cleared first thing on any exit
  {
    ChunkStore store(dir.path(), 8 << 20);
    load_ok(store);
    store_file(store, m, pieces);
    pinned.emplace(stuck);
    if (!pinned->set) WARN("cannot make a chunk file immutable here: the failing unlinks are not exercised");
    // remove_file deletes what it can; the chunk it cannot stays indexed and counted.
    Result<ChunkStore::RemoveReport> removed = store.remove_file(m.file_id());
    REQUIRE(removed.ok());
    CHECK(removed->chunks == (pinned->set ? 1u : 2u));
    CHECK(store.manifest(m.file_id()).status().code() == ErrorCode::kNotFound);
    CHECK(store.has_chunk(m.chunks[0]) == pinned->set);
    CHECK_FALSE(store.has_chunk(m.chunks[1]));
    CHECK(store.stored_bytes() == (pinned->set ? pieces[0].size() : 0u));
  }
  {
    // A start deletes chunks no file uses; one it cannot delete is still counted.
    ChunkStore store(dir.path(), 8 << 20);
    ChunkStore::LoadReport report = load_ok(store);
    CHECK(report.orphan_chunks == 0);
    CHECK(store.stored_bytes() == (pinned->set ? pieces[0].size() : 0u));
    CHECK(fs::exists(stuck) == pinned->set);
  }
  const bool was_pinned = pinned->set;
  pinned->release();
  REQUIRE_FALSE(pinned->set);
  ChunkStore store(dir.path(), 8 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  CHECK(report.orphan_chunks == (was_pinned ? 1u : 0u));
  CHECK(report.orphan_bytes == (was_pinned ? pieces[0].size() : 0u));
  CHECK(store.stored_bytes() == 0);
  CHECK_FALSE(fs::exists(stuck));
  CHECK(store.chunk_count() == 0);
}

TEST_CASE("removing a file that is not stored is not_found and changes nothing") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  std::vector<std::string> pieces;
  Manifest m = manifest_of("a.bin", bytes_of(100, 'a'), &pieces);
  REQUIRE(store.put_chunk(m.chunks[0], pieces[0].data(), pieces[0].size()).ok());
  Result<ChunkStore::RemoveReport> removed = store.remove_file(m.file_id());
  CHECK(removed.status().code() == ErrorCode::kNotFound);
  CHECK(store.has_chunk(m.chunks[0]));
  CHECK(store.stored_bytes() == 100);
}

TEST_CASE("a removed chunk can be stored again") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  std::vector<std::string> pieces;
  Manifest m = manifest_of("again.bin", bytes_of(300, 'g'), &pieces);
  REQUIRE(store.put_chunk(m.chunks[0], pieces[0].data(), pieces[0].size()).ok());
  REQUIRE(store.put_manifest(m).ok());
  REQUIRE(store.remove_file(m.file_id()).ok());
  CHECK(store.stored_bytes() == 0);
  REQUIRE(store.put_chunk(m.chunks[0], pieces[0].data(), pieces[0].size()).ok());
  Result<zmq::message_t> read = store.read_chunk(m.chunks[0]);
  REQUIRE(read.ok());
  CHECK(read->to_string() == pieces[0]);
  CHECK(store.stored_bytes() == 300);
}

TEST_CASE("chunks no file uses are deleted on load") {
  TempDir dir{"p2p-chunk-store-test"};
  std::vector<std::string> kept_chunks, orphan_chunks;
  Manifest kept = manifest_of("kept.bin", bytes_of(40000, 'k'), &kept_chunks);
  Manifest interrupted = manifest_of("interrupted.bin", bytes_of(30000, 'i'), &orphan_chunks);
  {
    ChunkStore store(dir.path(), 1 << 20);
    load_ok(store);
    for (const auto& c : kept_chunks) REQUIRE(store.put_chunk(hash_of(c), c.data(), c.size()).ok());
    REQUIRE(store.put_manifest(kept).ok());
    // A put that stored its chunks here but never committed: no manifest.
    for (const auto& c : orphan_chunks) REQUIRE(store.put_chunk(hash_of(c), c.data(), c.size()).ok());
  }
  ChunkStore store(dir.path(), 1 << 20);
  ChunkStore::LoadReport report = load_ok(store);
  CHECK(report.orphan_chunks == orphan_chunks.size());
  CHECK(report.orphan_bytes == 30000);
  CHECK(report.chunks == kept_chunks.size());
  CHECK(store.stored_bytes() == 40000);
  CHECK(store.complete(kept));
  for (const auto& c : orphan_chunks) CHECK_FALSE(store.has_chunk(hash_of(c)));
}

TEST_CASE("a staged chunk is neither served nor counted until kept") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  const std::string bytes = bytes_of(5000, 's');
  const std::uint64_t free_before = store.free_bytes();
  Result<ChunkStore::StagedChunk> staged = store.stage_chunk(hash_of(bytes), bytes.data(), bytes.size());
  REQUIRE(staged.ok());
  CHECK_FALSE(store.has_chunk(hash_of(bytes)));
  CHECK(store.free_bytes() == free_before - bytes.size());  // reserved while staged
  REQUIRE(store.keep(staged.value()).ok());
  CHECK(store.has_chunk(hash_of(bytes)));
  CHECK(store.stored_bytes() == bytes.size());
  CHECK(store.free_bytes() == free_before - bytes.size());
  Result<zmq::message_t> read = store.read_chunk(hash_of(bytes));
  REQUIRE(read.ok());
  CHECK(std::string(static_cast<const char*>(read->data()), read->size()) == bytes);
}

TEST_CASE("a discarded staged chunk leaves no file and frees its reservation") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  const std::string bytes = bytes_of(7000, 'd');
  const std::uint64_t free_before = store.free_bytes();
  Result<ChunkStore::StagedChunk> staged = store.stage_chunk(hash_of(bytes), bytes.data(), bytes.size());
  REQUIRE(staged.ok());
  store.discard(staged.value());
  CHECK_FALSE(store.has_chunk(hash_of(bytes)));
  CHECK(store.free_bytes() == free_before);
  CHECK(fs::is_empty(dir.path() / "tmp"));
  CHECK(fs::is_empty(dir.path() / "chunks"));
}

TEST_CASE("a staged chunk is kept only if its bytes on disk match its hash") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 1 << 20);
  load_ok(store);
  // Both sides of the O_DIRECT threshold: the bytes are read back either way.
  for (std::size_t size : {std::size_t{6000}, std::size_t{200000}}) {
    const std::string good = bytes_of(size, 'i');
    Result<ChunkStore::StagedChunk> intact = store.stage_chunk(hash_of(good), good.data(), good.size());
    REQUIRE(intact.ok());
    REQUIRE(store.keep_if_intact(intact.value()).ok());
    CHECK(store.has_chunk(hash_of(good)));

    // Bytes that do not match the hash they were staged under.
    const std::string bad = bytes_of(size, 'j');
    const Hash claimed = hash_of(bytes_of(size, 'k'));
    Result<ChunkStore::StagedChunk> torn = store.stage_chunk(claimed, bad.data(), bad.size());
    REQUIRE(torn.ok());
    CHECK(store.keep_if_intact(torn.value()).code() == ErrorCode::kBadChunk);
    CHECK_FALSE(store.has_chunk(claimed));
  }
  CHECK(fs::is_empty(dir.path() / "tmp"));
  CHECK(store.stored_bytes() == 206000);
}

TEST_CASE("chunks of sizes around the disk block read back exactly") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 16 << 20);
  load_ok(store);
  for (std::size_t size : {std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                           kDirectMinBytes - 1, kDirectMinBytes, kDirectMinBytes + 1,
                           std::size_t{limits::kMaxChunkSize}}) {
    const std::string bytes = bytes_of(size, static_cast<char>(size));
    REQUIRE(store.put_chunk(hash_of(bytes), bytes.data(), bytes.size()).ok());
    Result<zmq::message_t> read = store.read_chunk(hash_of(bytes));
    REQUIRE(read.ok());
    CHECK(std::string(static_cast<const char*>(read->data()), read->size()) == bytes);
  }
  // Padded direct writes are trimmed: a reload re-hashes every chunk and keeps them all.
  ChunkStore again(dir.path(), 16 << 20);
  ChunkStore::LoadReport report = load_ok(again);
  CHECK(report.dropped_chunks.empty());
}

TEST_CASE("a small chunk is stored through the page cache and a large one past it") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 16 << 20);
  load_ok(store);
  const std::string small = bytes_of(kDirectMinBytes - 1, 's');
  const std::string large = bytes_of(kDirectMinBytes, 'l');
  REQUIRE(store.put_chunk(hash_of(small), small.data(), small.size()).ok());
  REQUIRE(store.put_chunk(hash_of(large), large.data(), large.size()).ok());
  // Cached: the next GET_CHUNK of a small file is served from memory.
  CHECK(p2p::test::cached_pages(ChunkStore::chunk_path_in(dir.path(), hash_of(small))) ==
        (small.size() + kDirectAlignment - 1) / kDirectAlignment);
  // Without O_DIRECT (tmpfs) the page cache is where the file lives.
  if (p2p::test::direct_io_supported(dir.path()))
    CHECK(p2p::test::cached_pages(ChunkStore::chunk_path_in(dir.path(), hash_of(large))) == std::size_t{0});
}

TEST_CASE("a large chunk a get reads stays in the page cache, while the store's check at start leaves none cached") {
  TempDir dir{"p2p-chunk-store-test"};
  const std::string large = bytes_of(kDirectMinBytes + 100, 'g');
  const std::filesystem::path path = ChunkStore::chunk_path_in(dir.path(), hash_of(large));
  {
    ChunkStore store(dir.path(), 16 << 20);
    load_ok(store);
    REQUIRE(store.put_chunk(hash_of(large), large.data(), large.size()).ok());
    // A file uses it: a chunk no manifest names is deleted at start.
    REQUIRE(store.put_manifest(Manifest{"cached.bin", large.size(), limits::kDefaultChunkSize, {hash_of(large)}, 1}).ok());
  }
  REQUIRE(p2p::test::evict_from_page_cache(path));
  ChunkStore again(dir.path(), 16 << 20);
  load_ok(again);  // re-hashes every chunk: a check of the disk, not a read to serve
  if (p2p::test::direct_io_supported(dir.path())) CHECK(p2p::test::cached_pages(path) == std::size_t{0});

  Result<zmq::message_t> read = again.read_chunk(hash_of(large));
  REQUIRE(read.ok());
  CHECK(std::string(static_cast<const char*>(read->data()), read->size()) == large);
  CHECK(p2p::test::cached_pages(path) == (large.size() + kDirectAlignment - 1) / kDirectAlignment);
}

TEST_CASE("a check of a chunk someone got wrong bytes of drops its cached pages and reads it from disk") {
  TempDir dir{"p2p-chunk-store-test"};
  ChunkStore store(dir.path(), 16 << 20);
  load_ok(store);
  const std::string small = bytes_of(4096, 's');  // below kDirectMinBytes: served and scrubbed through the cache
  const std::string large = bytes_of(kDirectMinBytes + 100, 'l');
  REQUIRE(store.put_chunk(hash_of(small), small.data(), small.size()).ok());
  REQUIRE(store.put_chunk(hash_of(large), large.data(), large.size()).ok());
  const fs::path large_path = ChunkStore::chunk_path_in(dir.path(), hash_of(large));
  const fs::path small_path = ChunkStore::chunk_path_in(dir.path(), hash_of(small));
  REQUIRE(store.read_chunk(hash_of(large)).ok());  // a get: the pages are now cached
  REQUIRE(p2p::test::cached_pages(large_path).value_or(0) > 0);

  // A routine scrub leaves a hot chunk's cached pages alone.
  Result<ChunkStore::ScrubOutcome> routine = store.scrub_chunk(hash_of(large));
  REQUIRE(routine.ok());
  CHECK(p2p::test::cached_pages(large_path).value_or(0) > 0);

  // A reported one is read from disk, and what GET_CHUNK serves next is too.
  Result<ChunkStore::ScrubOutcome> checked =
      store.scrub_chunk(hash_of(large), ChunkStore::ScrubRead::kCachedPagesDropped);
  REQUIRE(checked.ok());
  CHECK(checked->bytes == large.size());
  CHECK_FALSE(checked->dropped);
  CHECK(store.has_chunk(hash_of(large)));
  if (p2p::test::direct_io_supported(dir.path())) CHECK(p2p::test::cached_pages(large_path) == std::size_t{0});

  // A small chunk is checked through the cache, after its pages were dropped.
  Result<ChunkStore::ScrubOutcome> small_checked =
      store.scrub_chunk(hash_of(small), ChunkStore::ScrubRead::kCachedPagesDropped);
  REQUIRE(small_checked.ok());
  CHECK_FALSE(small_checked->dropped);
  CHECK(small_checked->bytes == small.size());
  CHECK(fs::exists(small_path));
}
