// ReplicationPlanner: which copies and trims docs/replication.md asks for,
// given the registry, the index and the orders in flight. Time is injected.
#include <catch2/catch.hpp>

#include <algorithm>
#include <initializer_list>

#include "services/tracker/replication_planner.h"
#include "tests/support/fake_manifest.h"
#include "tests/support/numbered.h"

using namespace p2p;
using namespace p2p::tracker;
using namespace std::chrono_literals;

namespace {

const TimePoint t0 = TimePoint{} + 10h;  // an arbitrary, injected "now"
constexpr auto kGrace = 5000ms;
constexpr auto kCopyTimeout = 600000ms;
constexpr std::uint64_t kSize = 100000;

// The planner's tests vary the replication factor more than the size.
Manifest manifest_of(const std::string& name, std::uint32_t replicas, std::uint64_t size = kSize) {
  return test::fake_manifest(name, size, 0, replicas);
}

// The broker's replication state, built directly.
struct World {
  PeerRegistry registry{24h};  // nothing expires: deaths are explicit
  FileIndex index{3};
  CopyTracker orders{kCopyTimeout};
  ReplicationPolicy policy{kGrace, 2, t0 - 1h};  // safe mode over long ago

  // A live peer with storage (and replication unless told otherwise), live since `since`.
  void join(const std::string& id, std::uint64_t free_bytes, TimePoint since = t0 - 1h, bool replication = true) {
    REQUIRE(registry.ready("s-" + id, {id, proto::kServiceStorage, "tcp://" + id, 1u << 30, free_bytes}, since).ok());
    if (replication)
      REQUIRE(registry.ready("r-" + id, {id, proto::kServiceReplication, "tcp://" + id, 0, 0}, since).ok());
  }
  void join_each(std::initializer_list<const char*> ids, std::uint64_t free_bytes) {
    for (const char* id : ids) join(id, free_bytes);
  }
  // The peer's storage goes at `when`: its holdings are lost.
  void kill(const std::string& id, TimePoint when) {
    REQUIRE(registry.remove("s-" + id).has_value());
    index.remove_peer(id, when);
  }
  Hash hold(const Manifest& m, std::initializer_list<const char*> holders) {
    for (const char* h : holders) index.add_holding(m, h);
    return m.file_id();
  }
  ReplicationPlan plan(TimePoint now = t0) const { return plan_replication(registry, index, orders, policy, now); }
  bool can_release(const std::string& id, TimePoint now = t0) const {
    return releasable(id, registry, index, orders, policy, now);
  }
};

std::vector<std::string> targets(const ReplicationPlan& plan) {
  std::vector<std::string> out;
  for (const CopyOrder& c : plan.copies) out.push_back(c.target);
  return out;
}

std::vector<std::string> source_ids(const CopyOrder& order) {
  std::vector<std::string> out;
  for (const proto::HolderInfo& h : order.sources) out.push_back(h.peer_id);
  return out;
}

}  // namespace

TEST_CASE("under-replicated file gets copies to the freest eligible peers") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 500'000);
  w.join("c", 300'000);
  w.join("d", 200'000);
  w.join("e", 900'000);
  REQUIRE(w.registry.set_draining("e"));  // the roomiest, but leaving
  w.join("f", 2'000'000, t0 - 1h, /*replication=*/false);  // cannot receive copies
  const Hash id = w.hold(manifest_of("movie", 3), {"a"});

  const ReplicationPlan plan = w.plan();
  CHECK(targets(plan) == std::vector<std::string>{"b", "c"});
  REQUIRE(plan.copies.size() == 2);
  CHECK(plan.copies[0].file_id == id);
  CHECK(plan.copies[0].bytes == kSize);
  CHECK(source_ids(plan.copies[0]) == std::vector<std::string>{"a"});
  CHECK(plan.copies[0].sources[0].endpoint == "tcp://a");
  CHECK(plan.deletes.empty());
}

TEST_CASE("file k defaults to the tracker's replicas and wanted is capped by live peers") {
  World w;  // tracker default k = 3
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.hold(manifest_of("doc", 0), {"a"});
  CHECK(targets(w.plan()) == std::vector<std::string>{"b"});  // wanted = min(3, 2 peers)

  World full;
  full.join("a", 1'000'000);
  full.join("b", 1'000'000);
  full.hold(manifest_of("doc", 0), {"a", "b"});
  CHECK(full.plan().copies.empty());
}

TEST_CASE("copy target needs room beyond copies already promised to it") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", kSize - 1);
  w.join("c", kSize + kSize / 2);
  w.hold(manifest_of("one", 2), {"a"});
  w.hold(manifest_of("two", 2), {"a"});

  // c has room for one of the two files, b for none.
  const ReplicationPlan plan = w.plan();
  CHECK(targets(plan) == std::vector<std::string>{"c"});

  w.orders.start_copy(plan.copies.at(0).file_id, "c", kSize, t0);
  CHECK(w.plan().copies.empty());  // the promised bytes count against c
}

TEST_CASE("copies per peer stay under the cap, counting those in flight") {
  World w;
  w.policy.max_copies_per_peer = 2;
  w.join("a", 10'000'000);
  w.join("b", 10'000'000);
  const Hash f1 = w.hold(manifest_of("f1", 2), {"a"});
  const Hash f2 = w.hold(manifest_of("f2", 2), {"a"});
  const Hash f3 = w.hold(manifest_of("f3", 2), {"a"});

  CHECK(w.plan().copies.size() == 2);

  w.orders.start_copy(f1, "b", kSize, t0);
  w.orders.start_copy(f2, "b", kSize, t0);
  CHECK(w.plan().copies.empty());  // b is full of copies; f1 and f2 are on their way

  REQUIRE(w.orders.finish_copy(f1, "b"));
  w.index.add_holding(w.index.find(f1)->manifest, "b");
  const ReplicationPlan next = w.plan();
  REQUIRE(next.copies.size() == 1);
  CHECK(next.copies[0].file_id == f3);
  CHECK(next.copies[0].target == "b");
}

TEST_CASE("file with a copy in flight gets no second order for that replica") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("c", 1'000'000);
  const Hash id = w.hold(manifest_of("f", 2), {"a"});
  w.orders.start_copy(id, "b", kSize, t0);
  CHECK(w.plan().copies.empty());
}

TEST_CASE("unavailable file gets no order") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("c", 1'000'000);
  w.hold(manifest_of("f", 2), {"a"});
  w.kill("a", t0);
  CHECK(w.plan(t0 + kGrace).copies.empty());
  CHECK(w.plan(t0 + 1h).copies.empty());
}

TEST_CASE("grace delays repair after a death but not for a never-full file") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("c", 1'000'000);
  const Hash lost = w.hold(manifest_of("lost-one", 2), {"a", "b"});
  const Hash thin = w.hold(manifest_of("never-full", 3), {"c"});  // put while too few peers were up
  w.kill("b", t0);

  // Within the grace only the never-full file is repaired (onto a and the freest other).
  const ReplicationPlan early = w.plan(t0 + kGrace - 1ms);
  for (const CopyOrder& c : early.copies) CHECK(c.file_id == thin);
  CHECK(targets(early) == std::vector<std::string>{"a"});  // wanted = min(3, 2 live peers)

  const ReplicationPlan late = w.plan(t0 + kGrace);
  REQUIRE(late.copies.size() == 2);
  CHECK(late.copies[0].file_id == lost);  // fewest safe holders first (tie on 1: by id)
  CHECK(late.copies[0].target == "c");
  CHECK(late.copies[1].file_id == thin);
}

TEST_CASE("holder back within the grace needs no repair; a still-short file waits out the grace") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("c", 1'000'000);
  w.join("d", 1'000'000);
  const Hash id = w.hold(manifest_of("f", 3), {"a", "b", "c"});
  w.kill("b", t0);
  w.kill("c", t0 + 1s);
  // b's storage restarts and re-announces: still one short of the three
  // before the losses. (Its replication service never went.)
  w.join("b", 1'000'000, t0 + 2s, /*replication=*/false);
  w.index.add_holding(w.index.find(id)->manifest, "b");
  CHECK(w.plan(t0 + 3s).copies.empty());
  CHECK(targets(w.plan(t0 + 1s + kGrace)) == std::vector<std::string>{"d"});
}

TEST_CASE("recently failed target is tried last") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 900'000);
  w.join("c", 500'000);
  const Hash id = w.hold(manifest_of("f", 2), {"a"});
  CHECK(targets(w.plan()) == std::vector<std::string>{"b"});
  w.orders.start_copy(id, "b", kSize, t0);
  REQUIRE(w.orders.fail_copy(id, "b", t0));
  CHECK(targets(w.plan(t0 + 1s)) == std::vector<std::string>{"c"});

  World lonely;  // with no one else, the failed target is tried again
  lonely.join("a", 1'000'000);
  lonely.join("b", 900'000);
  const Hash only = lonely.hold(manifest_of("f", 2), {"a"});
  lonely.orders.start_copy(only, "b", kSize, t0);
  REQUIRE(lonely.orders.fail_copy(only, "b", t0));
  CHECK(targets(lonely.plan(t0 + 1s)) == std::vector<std::string>{"b"});
}

TEST_CASE("draining peer's files are copied and it is then releasable") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("c", 500'000);
  const Hash id = w.hold(manifest_of("f", 2), {"a", "b"});
  CHECK_FALSE(w.can_release("a"));  // not draining
  REQUIRE(w.registry.set_draining("a"));

  // No grace: nothing is lost yet. The draining peer stays a source, listed last.
  const ReplicationPlan plan = w.plan();
  REQUIRE(plan.copies.size() == 1);
  CHECK(plan.copies[0].target == "c");
  CHECK(source_ids(plan.copies[0]) == std::vector<std::string>{"b", "a"});
  CHECK_FALSE(w.can_release("a"));

  w.orders.start_copy(id, "c", kSize, t0);
  CHECK_FALSE(w.can_release("a"));  // a copy in flight is not a holder yet
  REQUIRE(w.orders.finish_copy(id, "c"));
  w.index.add_holding(w.index.find(id)->manifest, "c");
  CHECK(w.can_release("a"));
  CHECK(w.plan().copies.empty());
  CHECK(w.plan().deletes.empty());  // the draining copy is not surplus to trim
}

TEST_CASE("draining peer with the only copy waits while another peer can take it") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 10);  // alive but without room
  w.hold(manifest_of("f", 2), {"a"});
  REQUIRE(w.registry.set_draining("a"));
  CHECK(w.plan().copies.empty());
  CHECK_FALSE(w.can_release("a"));
}

TEST_CASE("draining peer is not releasable while another holder of its file is being trimmed") {
  World w;
  w.join_each({"a", "b", "c"}, 1'000'000);
  const Hash id = w.hold(manifest_of("f", 1), {"a", "b"});
  const Hash other = w.hold(manifest_of("g", 1), {"b", "c"});
  w.orders.start_delete(id, "b", t0);  // b may have deleted f already
  REQUIRE(w.registry.set_draining("a"));
  CHECK_FALSE(w.can_release("a"));
  REQUIRE(w.orders.finish_delete(id, "b"));
  REQUIRE(w.index.remove_holding(id, "b"));
  CHECK_FALSE(w.can_release("a"));  // now a holds the only copy
  w.index.add_holding(w.index.find(id)->manifest, "c");
  CHECK(w.can_release("a"));

  // A trim of the draining peer's own copy, or of a file it does not hold, does not hold it back.
  w.orders.start_delete(id, "a", t0);
  w.orders.start_delete(other, "b", t0);
  CHECK(w.can_release("a"));
}

TEST_CASE("last peer is releasable at once") {
  World w;
  w.join("a", 1'000'000);
  w.hold(manifest_of("f", 3), {"a"});
  w.hold(manifest_of("g", 1), {"a"});
  REQUIRE(w.registry.set_draining("a"));
  CHECK(w.can_release("a"));
  CHECK(w.plan().copies.empty());

  World empty_handed;  // a draining peer holding nothing goes at once too
  empty_handed.join("a", 1'000'000);
  empty_handed.join("b", 1'000'000);
  REQUIRE(empty_handed.registry.set_draining("a"));
  CHECK(empty_handed.can_release("a"));
}

TEST_CASE("trim waits for a stable grace, hits the fullest holder, one at a time, never below k") {
  World w;
  w.join("a", 100);
  w.join("b", 50, t0);  // rejoined just now
  w.join("c", 300);
  w.join("d", 200);
  const Hash id = w.hold(manifest_of("f", 2), {"a", "b", "c", "d"});

  CHECK(w.plan(t0 + kGrace - 1ms).deletes.empty());  // b has not been live for a grace yet

  ReplicationPlan plan = w.plan(t0 + kGrace);
  CHECK(plan.copies.empty());
  REQUIRE(plan.deletes.size() == 1);
  CHECK(plan.deletes[0].file_id == id);
  CHECK(plan.deletes[0].holder == "b");  // least free space

  w.orders.start_delete(id, "b", t0 + kGrace);
  CHECK(w.plan(t0 + kGrace).deletes.empty());  // one DELETE at a time per file

  REQUIRE(w.orders.finish_delete(id, "b"));
  REQUIRE(w.index.remove_holding(id, "b"));
  plan = w.plan(t0 + kGrace);
  REQUIRE(plan.deletes.size() == 1);
  CHECK(plan.deletes[0].holder == "a");

  REQUIRE(w.index.remove_holding(id, "a"));
  CHECK(w.plan(t0 + kGrace).deletes.empty());  // at k = 2: never below
  CHECK(w.plan(t0 + kGrace).copies.empty());
}

TEST_CASE("trims of one plan take the surplus from the fullest holders in turn") {
  World w;  // free space as the last heartbeats reported it
  w.join("a", 100000);
  w.join("b", 150000);
  w.join("c", 900000);
  w.join("d", 900000);
  for (int i = 0; i < 4; ++i) w.hold(manifest_of(p2p::test::numbered("f", i), 3), {"a", "b", "c", "d"});

  // Each file of kSize (100000) has one copy too many. Counting what the
  // earlier trims free: a (100k), b (150k), a (200k), b (250k); without it,
  // all four would hit a.
  const ReplicationPlan plan = w.plan();
  REQUIRE(plan.deletes.size() == 4);
  std::vector<std::string> hit;
  for (const DeleteOrder& d : plan.deletes) hit.push_back(d.holder);
  CHECK(std::count(hit.begin(), hit.end(), "a") == 2);
  CHECK(std::count(hit.begin(), hit.end(), "b") == 2);
}

TEST_CASE("trim ignores draining holders when counting the surplus") {
  World w;
  w.join("a", 100);
  w.join("b", 200);
  w.join("c", 300);
  w.hold(manifest_of("f", 2), {"a", "b", "c"});
  REQUIRE(w.registry.set_draining("a"));
  CHECK(w.plan().deletes.empty());  // 2 safe holders = k
}

TEST_CASE("safe mode after start plans no repairs, trims or releases") {
  World w;
  w.policy.safe_until = t0 + kGrace;
  w.join("a", 1'000'000, t0 - 1h);
  w.join("b", 1'000'000, t0 - 1h);
  w.join("c", 50, t0 - 1h);
  w.join("d", 60, t0 - 1h);
  w.join("e", 70, t0 - 1h);
  w.hold(manifest_of("thin", 2), {"a"});
  w.hold(manifest_of("fat", 1), {"c", "d", "e"});
  w.join("x", 1'000'000, t0 - 1h);
  w.hold(manifest_of("x-only", 2), {"x"});
  REQUIRE(w.registry.set_draining("x"));

  const TimePoint before = t0 + kGrace - 1ms;
  CHECK(in_safe_mode(w.policy, before));
  CHECK(w.plan(before).copies.empty());
  CHECK(w.plan(before).deletes.empty());
  CHECK_FALSE(w.can_release("x", before));

  const TimePoint after = t0 + kGrace;
  CHECK_FALSE(in_safe_mode(w.policy, after));
  const ReplicationPlan plan = w.plan(after);
  CHECK(plan.copies.size() == 3);   // thin once, x-only twice (its only holder is draining)
  CHECK(plan.deletes.size() == 1);  // fat
}

TEST_CASE("nothing is planned or released while a departure is in progress, so a short file that loses another "
          "holder still gets its grace") {
  World w;
  w.join_each({"a", "b", "c", "d", "e"}, 1'000'000);
  const Hash id = w.hold(manifest_of("f", 3), {"a", "b", "c"});
  w.kill("a", t0 - 1h);  // short since long ago: its grace is over
  w.join("x", 1'000'000);
  w.hold(manifest_of("x-too", 2), {"x", "b", "d"});  // safe without x: x may go
  REQUIRE(w.registry.set_draining("x"));

  // c goes at t0, taken off its files in steps: f still lists it.
  REQUIRE(w.registry.remove("s-c").has_value());
  REQUIRE(w.index.start_departure("c", t0) == 1);
  REQUIRE(w.index.find(id)->holders.contains("c"));
  CHECK(w.plan(t0 + 1ms).copies.empty());  // f copied now would skip the grace c gets to come back
  CHECK_FALSE(w.can_release("x", t0 + 1ms));

  w.index.remove_departed(2);  // found, then taken off: a loss as of t0
  REQUIRE_FALSE(w.index.departing());
  CHECK(w.plan(t0 + 1ms).copies.empty());  // in its grace
  CHECK(w.can_release("x", t0 + 1ms));
  const ReplicationPlan after = w.plan(t0 + kGrace + 1ms);
  CHECK(targets(after) == std::vector<std::string>{"d", "e"});
  for (const CopyOrder& c : after.copies) CHECK(c.file_id == id);
}

TEST_CASE("file health counts safe holders against min of k and live non-draining peers") {
  World w;
  w.join("a", 1);
  w.join("b", 1);
  w.join("c", 1);
  Manifest m = manifest_of("f", 3);
  w.hold(m, {"a", "b"});
  REQUIRE(w.registry.set_draining("b"));
  const FileRecord& f = *w.index.find(m.file_id());
  FileHealth h = file_health(f, 3, w.registry.live_non_draining(), w.registry);
  CHECK(h.wanted == 2);
  CHECK(h.live == 2);
  CHECK(h.safe == 1);
  CHECK(h.under_replicated());
  CHECK_FALSE(h.unavailable());
}

TEST_CASE("a file still being put is not repaired until it settles") {
  // The index stamps a new file with the real clock, so this case runs on it.
  const TimePoint now = Clock::now();
  World w;
  for (const char* id : {"a", "b", "c"}) w.join(id, 1'000'000, now - 1h);
  w.policy.safe_until = now - 1h;
  w.policy.new_file_settle = 1min;
  w.hold(manifest_of("fresh", 3), {"a"});  // the pipeline's first peer announced; the put is publishing
  CHECK(w.plan(now).copies.empty());
  CHECK(w.plan(now + 2min).copies.size() == 2);
}

TEST_CASE("a plan is settled only when no file waits for a copy, a grace or a trim") {
  World w;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("c", 1'000'000);
  const Hash id = w.hold(manifest_of("f", 2), {"a", "b"});
  w.hold(manifest_of("gone", 2), {"c"});
  w.kill("c", t0 - 1h);  // "gone" is unavailable: nothing to copy from, nothing to wait for
  CHECK(w.plan().settled);

  SECTION("a file short of a holder: not settled while the copy waits for the grace") {
    w.join("d", 1'000'000);
    w.kill("b", t0);
    const ReplicationPlan waiting = w.plan(t0 + kGrace - 1ms);
    CHECK(waiting.copies.empty());
    CHECK_FALSE(waiting.settled);
    const ReplicationPlan due = w.plan(t0 + kGrace);
    REQUIRE(due.copies.size() == 1);
    CHECK_FALSE(due.settled);
    w.orders.start_copy(id, due.copies[0].target, kSize, t0 + kGrace);
    CHECK(w.plan(t0 + kGrace).settled);  // the copy in flight counts: nothing left to wait for
  }
  SECTION("a surplus holder: not settled until it is trimmed") {
    w.join("d", 1'000'000, t0);
    w.hold(manifest_of("f", 2), {"d"});
    const ReplicationPlan early = w.plan(t0 + kGrace - 1ms);  // d too new to trim anything
    CHECK(early.deletes.empty());
    CHECK_FALSE(early.settled);
    CHECK_FALSE(w.plan(t0 + kGrace).settled);
  }
  SECTION("never in safe mode") {
    w.policy.safe_until = t0 + kGrace;
    CHECK_FALSE(w.plan(t0).settled);
  }
}

TEST_CASE("copies go to the most endangered files first, files of draining peers ranked among the others") {
  World w;
  w.policy.max_copies_per_peer = 1;
  w.join("a", 1'000'000);
  w.join("b", 1'000'000);
  w.join("t", 1'000'000);
  w.join("x", 1'000'000);
  // k = 3. Files on a and b, and files on a, b and the soon draining x: 2 safe holders each.
  std::vector<Hash> short_two, drained_two;
  for (int i = 0; i < 4; ++i) {
    short_two.push_back(w.hold(manifest_of(p2p::test::numbered("s", i), 3), {"a", "b"}));
    drained_two.push_back(w.hold(manifest_of(p2p::test::numbered("d", i), 3), {"a", "b", "x"}));
  }
  REQUIRE(w.registry.set_draining("x"));

  SECTION("ties of safe holders go by file id, whichever kind of file") {
    // Only t can take any of them (a and b hold all), and t takes one copy.
    std::vector<Hash> all = short_two;
    all.insert(all.end(), drained_two.begin(), drained_two.end());
    const ReplicationPlan plan = w.plan();
    REQUIRE(plan.copies.size() == 1);
    CHECK(plan.copies[0].target == "t");
    CHECK(plan.copies[0].file_id == *std::min_element(all.begin(), all.end()));
  }
  SECTION("a drained file with one safe holder comes before every file with two") {
    const Hash lonely = w.hold(manifest_of("lonely", 3), {"a", "x"});
    const ReplicationPlan plan = w.plan();
    REQUIRE(plan.copies.size() == 2);  // b's and t's slot, both for it
    CHECK(plan.copies[0].file_id == lonely);
    CHECK(plan.copies[1].file_id == lonely);
  }
  SECTION("a short file with one holder comes before drained files with two") {
    const Hash lonely = w.hold(manifest_of("lonely", 3), {"a"});
    const ReplicationPlan plan = w.plan();
    REQUIRE(plan.copies.size() == 2);
    CHECK(plan.copies[0].file_id == lonely);
    CHECK(plan.copies[1].file_id == lonely);
  }
}

TEST_CASE("a plan with every copy slot taken still waits for the short files") {
  World w;
  w.policy.max_copies_per_peer = 1;
  w.join("a", 1'000'000, t0 - 1h, false);  // a holder but no copy target
  w.join("b", 1'000'000);
  w.join("c", 1'000'000);
  // k = 3: "busy" (1 holder, looked at first) has its two copies in flight,
  // which take every slot.
  const Hash busy = w.hold(manifest_of("busy", 3), {"a"});
  w.orders.start_copy(busy, "b", kSize, t0);
  w.orders.start_copy(busy, "c", kSize, t0);
  SECTION("a file with its copies in flight waits for nothing") { CHECK(w.plan().settled); }
  SECTION("another short file waits for a free slot") {
    w.hold(manifest_of("next", 3), {"a", "b"});
    const ReplicationPlan plan = w.plan();
    CHECK(plan.copies.empty());
    CHECK_FALSE(plan.settled);
  }
}

TEST_CASE("planning takes at most a quarter of the broker's time") {
  CHECK(kMaxPlanShare == 4);
  CHECK(next_plan_at(t0, 1300ms) == t0 + 3900ms);  // a million files: plan 1.3 s, then answer for 3.9 s
  CHECK(next_plan_at(t0, 2ms) == t0 + 6ms);        // a small index is planned every tick
}
