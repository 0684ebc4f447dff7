#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/chunk_store.h"
#include "common/limits.h"
#include "common/sha256.h"
#include "services/peer/announce_queue.h"
#include "stored_file.h"
#include "tests/support/temp_dir.h"

using namespace p2p;
using peer::AnnounceQueue;

namespace {

struct Store {
  test::TempDir dir{"p2p-announce-queue"};
  ChunkStore store{dir.path(), 1 << 20};
  Store() { REQUIRE(store.load().ok()); }
  // Stores a one-chunk file held in full; returns its file id.
  Hash add(const std::string& name) { return test::add_stored_file(store, name).file_id(); }
};

std::vector<std::string> names(const AnnounceQueue::Batch& b) {
  std::vector<std::string> out;
  for (const Manifest& m : b.body.files) out.push_back(m.name);
  return out;
}

}  // namespace

TEST_CASE("an announce batch stays queued until it is popped") {
  Store s;
  AnnounceQueue q;
  q.restart({s.add("a"), s.add("b")});
  AnnounceQueue::Batch first = q.next(s.store);
  AnnounceQueue::Batch again = q.next(s.store);  // the link did not take it: the same batch
  CHECK(names(first) == std::vector<std::string>{"a", "b"});
  CHECK(names(again) == names(first));
  CHECK(first.body.complete);
  q.pop(first);
  CHECK(q.empty());
}

TEST_CASE("announce batches hold at most kMaxAnnounceBatch files and only the last says complete") {
  Store s;
  std::vector<Hash> ids;
  for (std::size_t i = 0; i < limits::kMaxAnnounceBatch + 3; ++i) ids.push_back(s.add(std::to_string(i) + ".txt"));
  AnnounceQueue q;
  q.restart(ids);
  AnnounceQueue::Batch first = q.next(s.store);
  CHECK(first.body.files.size() == limits::kMaxAnnounceBatch);
  CHECK_FALSE(first.body.complete);
  q.pop(first);
  AnnounceQueue::Batch last = q.next(s.store);
  CHECK(last.body.files.size() == 3);
  CHECK(last.body.complete);
  q.pop(last);
  CHECK(q.empty());
}

TEST_CASE("a queued file deleted before its batch is skipped") {
  Store s;
  Hash gone = s.add("gone");
  Hash kept = s.add("kept");
  AnnounceQueue q;
  q.restart({gone, kept});
  REQUIRE(s.store.remove_file(gone).ok());
  AnnounceQueue::Batch b = q.next(s.store);
  CHECK(names(b) == std::vector<std::string>{"kept"});
  CHECK(b.taken == 2);
  CHECK(b.body.complete);
}

TEST_CASE("with nothing held the complete marker is an empty batch, owed once") {
  Store s;
  AnnounceQueue q;
  CHECK(q.empty());  // nothing owed before the first join
  q.restart({});
  REQUIRE_FALSE(q.empty());
  AnnounceQueue::Batch b = q.next(s.store);
  CHECK(b.body.files.empty());
  CHECK(b.body.complete);
  q.pop(b);
  CHECK(q.empty());
}

TEST_CASE("a file added after the complete marker was sent is announced without it") {
  Store s;
  AnnounceQueue q;
  q.restart({s.add("a")});
  q.pop(q.next(s.store));
  q.add(s.add("b"));
  AnnounceQueue::Batch b = q.next(s.store);
  CHECK(names(b) == std::vector<std::string>{"b"});
  CHECK_FALSE(b.body.complete);
}

TEST_CASE("a forgone complete marker is not sent") {
  Store s;
  AnnounceQueue q;
  q.restart({s.add("a")});
  q.forgo_complete();
  CHECK_FALSE(q.next(s.store).body.complete);
}

TEST_CASE("a restart forgets what was queued for the previous connection") {
  Store s;
  Hash a = s.add("a");
  AnnounceQueue q;
  q.restart({a, s.add("b")});
  q.restart({a});
  AnnounceQueue::Batch b = q.next(s.store);
  CHECK(names(b) == std::vector<std::string>{"a"});
  CHECK(b.body.complete);
}
