// CopyTracker: orders in flight, their deadlines and remembered failures.
#include <catch2/catch.hpp>

#include "common/sha256.h"
#include "services/tracker/copy_tracker.h"

using namespace p2p;
using namespace p2p::tracker;
using namespace std::chrono_literals;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 10h;
constexpr auto kTimeout = 1000ms;

Hash id_of(const std::string& text) { return sha256(text.data(), text.size()); }

}  // namespace

TEST_CASE("copies in flight are counted per file and per target") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f"), g = id_of("g");
  t.start_copy(f, "b", 100, t0);
  t.start_copy(g, "b", 50, t0);
  t.start_copy(f, "c", 100, t0);
  CHECK(t.copies() == 3);
  CHECK(t.copies_of(f) == 2);
  CHECK(t.copies_to("b") == 2);
  CHECK(t.bytes_to("b") == 150);
  CHECK(t.copying(f, "c"));
  CHECK_FALSE(t.copying(g, "c"));

  CHECK(t.finish_copy(f, "b"));
  CHECK_FALSE(t.finish_copy(f, "b"));  // only once
  CHECK(t.copies_to("b") == 1);
  CHECK_FALSE(t.failed_recently(f, "b", t0));
}

TEST_CASE("failed copy is forgotten and its target remembered for a while") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f");
  t.start_copy(f, "b", 100, t0);
  CHECK(t.fail_copy(f, "b", t0));
  CHECK(t.copies() == 0);
  CHECK(t.failed_recently(f, "b", t0 + 1s));
  CHECK_FALSE(t.failed_recently(f, "c", t0 + 1s));
  CHECK_FALSE(t.failed_recently(f, "b", t0 + kFailedTargetMemory));
  CHECK_FALSE(t.fail_copy(f, "b", t0));  // not in flight any more
}

TEST_CASE("copies and deletes past their deadline expire") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f"), g = id_of("g");
  t.start_copy(f, "b", 100, t0);
  t.start_copy(g, "c", 100, t0 + 500ms);
  t.start_delete(f, "d", t0);

  ExpiredOrders none = t.expire(t0 + kTimeout - 1ms);
  CHECK(none.copies.empty());
  CHECK(none.deletes.empty());

  ExpiredOrders due = t.expire(t0 + kTimeout);
  REQUIRE(due.copies.size() == 1);
  CHECK(due.copies[0].file_id == f);
  CHECK(due.copies[0].target == "b");
  REQUIRE(due.deletes.size() == 1);
  CHECK(due.deletes[0].holder == "d");
  CHECK(t.copies() == 1);
  CHECK_FALSE(t.delete_pending(f));
  CHECK(t.failed_recently(f, "b", t0 + kTimeout));  // a timeout counts as a failure
}

TEST_CASE("one pending delete per file until removed") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f");
  CHECK_FALSE(t.delete_pending(f));
  t.start_delete(f, "b", t0);
  CHECK(t.delete_pending(f));
  CHECK_FALSE(t.finish_delete(f, "c"));
  CHECK(t.finish_delete(f, "b"));
  CHECK_FALSE(t.delete_pending(f));
}

TEST_CASE("peer that dies takes its orders with it") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f"), g = id_of("g");
  t.start_copy(f, "b", 100, t0);
  t.start_copy(g, "c", 100, t0);
  t.start_delete(g, "b", t0);
  CHECK(t.forget_peer("b") == 2);
  CHECK(t.copies() == 1);
  CHECK(t.copying(g, "c"));
  CHECK_FALSE(t.delete_pending(g));
}

TEST_CASE("orders version moves when an order starts, ends or expires, not when a failure is forgotten") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f");
  std::uint64_t v = t.version();
  auto moved = [&] {
    const bool m = t.version() != v;
    v = t.version();
    return m;
  };
  t.start_copy(f, "b", 100, t0);
  CHECK(moved());
  CHECK(t.finish_copy(f, "b"));
  CHECK(moved());
  CHECK_FALSE(t.finish_copy(f, "b"));
  CHECK_FALSE(moved());
  t.start_copy(f, "c", 100, t0);
  CHECK(t.fail_copy(f, "c", t0));
  CHECK(moved());
  t.start_delete(f, "d", t0);
  CHECK(moved());
  CHECK(t.finish_delete(f, "d"));
  CHECK(moved());

  t.start_copy(f, "e", 100, t0);
  moved();
  CHECK(t.expire(t0 + kTimeout - 1ms).copies.empty());
  CHECK_FALSE(moved());
  CHECK(t.expire(t0 + kTimeout).copies.size() == 1);
  CHECK(moved());
  CHECK(t.expire(t0 + kFailedTargetMemory + kTimeout).copies.empty());  // forgets the failures only
  CHECK_FALSE(moved());
  t.start_delete(f, "d", t0);
  moved();
  CHECK(t.forget_peer("d") == 1);
  CHECK(moved());
}

TEST_CASE("copies done counts the copies that succeeded, not failed, expired or forgotten ones") {
  CopyTracker t(kTimeout);
  const Hash f = id_of("f"), g = id_of("g"), h = id_of("h"), i = id_of("i");
  t.start_copy(f, "b", 100, t0);
  t.start_copy(g, "b", 100, t0);
  t.start_copy(h, "c", 100, t0);
  t.start_copy(i, "d", 100, t0 - kTimeout);
  CHECK(t.copies_done() == 0);
  CHECK(t.finish_copy(f, "b"));
  CHECK(t.copies_done() == 1);
  CHECK_FALSE(t.finish_copy(f, "b"));  // not in flight any more
  CHECK(t.fail_copy(g, "b", t0));
  CHECK(t.forget_peer("c") == 1);
  CHECK(t.expire(t0).copies.size() == 1);
  CHECK(t.copies_done() == 1);
}
