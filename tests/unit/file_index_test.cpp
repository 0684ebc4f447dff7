#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>
#include <vector>

#include "services/tracker/file_index.h"
#include "tests/support/fake_manifest.h"

using namespace p2p;
using namespace p2p::tracker;
using p2p::test::fake_manifest;

TEST_CASE("announced file is found by name and by id") {
  FileIndex index(3);
  Manifest m = fake_manifest("movie.mkv", 100000);
  HoldingOutcome h = index.add_holding(m, "p1");
  CHECK(h.new_file);
  CHECK(h.name_bound);
  CHECK(h.id == m.file_id());

  const FileRecord* by_name = index.lookup("movie.mkv");
  const FileRecord* by_id = index.lookup(m.file_id().hex());
  REQUIRE(by_name != nullptr);
  CHECK(by_name == by_id);
  CHECK(std::set<std::string>(by_name->holders.begin(), by_name->holders.end()) == std::set<std::string>{"p1"});
  CHECK(index.lookup("other") == nullptr);
  CHECK(index.files_held_by("p1") == 1);

  HoldingOutcome second = index.add_holding(m, "p2");
  CHECK_FALSE(second.new_file);
  CHECK(index.find(m.file_id())->holders.size() == 2);
}

TEST_CASE("announce does not steal a name bound to another file") {
  FileIndex index(3);
  Manifest a = fake_manifest("x", 10, 1);
  Manifest b = fake_manifest("x", 10, 2);
  index.add_holding(a, "p1");
  HoldingOutcome h = index.add_holding(b, "p2");
  CHECK(h.new_file);
  CHECK_FALSE(h.name_bound);
  CHECK(index.find_name("x")->id == a.file_id());
  CHECK(index.find(b.file_id()) != nullptr);  // still reachable by id
}

TEST_CASE("an announced batch indexes each manifest as announcing them one by one would") {
  Manifest a = fake_manifest("x", 10, 1);
  Manifest b = fake_manifest("x", 10, 2);  // the same name, another file
  Manifest c = fake_manifest("y", 20, 3);
  FileIndex batched(3), single(3);
  single.add_holding(a, "p0");
  batched.add_holding(a, "p0");
  // a again (known), b (new, its name taken), c twice in one batch.
  const std::vector<const Manifest*> batch{&a, &b, &c, &c};
  const std::vector<HoldingOutcome> got = batched.add_holdings(batch, "p1");
  REQUIRE(got.size() == batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    INFO("manifest " << i);
    const HoldingOutcome want = single.add_holding(*batch[i], "p1");
    CHECK(got[i].id == want.id);
    CHECK(got[i].new_file == want.new_file);
    CHECK(got[i].name_bound == want.name_bound);
  }
  CHECK_FALSE(got[0].new_file);
  CHECK_FALSE(got[0].name_bound);  // x is a's already
  CHECK(got[1].new_file);
  CHECK_FALSE(got[1].name_bound);  // x stays a's
  CHECK(got[2].name_bound);
  CHECK_FALSE(got[3].new_file);
  CHECK(batched.find_name("x")->id == a.file_id());
  CHECK(batched.find_name("y")->id == c.file_id());
  CHECK(batched.find(c.file_id())->holders.size() == 1);
  CHECK(batched.files_held_by("p1") == 3);
  CHECK(batched.counts().stored_bytes == single.counts().stored_bytes);
  CHECK(batched.add_holdings({}, "p2").empty());
}

TEST_CASE("publish of a different file under a taken name needs force") {
  FileIndex index(3);
  Manifest a = fake_manifest("x", 10, 1);
  Manifest b = fake_manifest("x", 10, 2);
  REQUIRE(index.publish(a, {"p1"}, false).ok());

  auto refused = index.publish(b, {"p2"}, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kNameExists);
  CHECK(index.find_name("x")->id == a.file_id());

  auto same = index.publish(a, {"p3"}, false);  // same content: fine
  REQUIRE(same.ok());
  CHECK(index.find(a.file_id())->holders.size() == 2);

  auto forced = index.publish(b, {"p2"}, true);
  REQUIRE(forced.ok());
  CHECK(forced.value() == b.file_id());
  CHECK(index.find_name("x")->id == b.file_id());
  CHECK(index.find(a.file_id()) != nullptr);  // the old file keeps its holders
}

TEST_CASE("replaced file is dropped when its last holder goes") {
  FileIndex index(3);
  Manifest a = fake_manifest("x", 10, 1);
  Manifest b = fake_manifest("x", 10, 2);
  REQUIRE(index.publish(a, {"p1"}, false).ok());
  REQUIRE(index.publish(b, {"p2"}, true).ok());
  CHECK(index.remove_peer("p1", Clock::time_point{}) == 1);
  CHECK(index.find(a.file_id()) == nullptr);
  CHECK(index.counts().files == 1);
}

TEST_CASE("named file stays indexed and unavailable when its holders die") {
  FileIndex index(2);
  Manifest m = fake_manifest("doc", 1000);
  index.add_holding(m, "p1");
  index.add_holding(m, "p2");
  CHECK(index.remove_peer("p1", Clock::time_point{}) == 1);
  CHECK(index.remove_peer("p2", Clock::time_point{}) == 1);
  CHECK(index.remove_peer("p2", Clock::time_point{}) == 0);
  const FileRecord* f = index.find_name("doc");
  REQUIRE(f != nullptr);
  CHECK(f->holders.empty());
  CHECK(index.files_held_by("p1") == 0);
  CHECK(index.counts().unavailable == 1);
}

TEST_CASE("status counts bytes and unavailable files") {
  FileIndex index(3);
  index.add_holding(fake_manifest("full", 100, 0, 2), "p1");  // wants 2, has 2
  index.add_holding(fake_manifest("full", 100, 0, 2), "p2");
  index.add_holding(fake_manifest("thin", 50), "p1");  // wants the default 3, has 1
  REQUIRE(index.publish(fake_manifest("gone", 30), {}, false).ok());  // no holder

  IndexCounts c = index.counts();
  CHECK(c.files == 3);
  CHECK(c.bytes == 180);
  CHECK(c.stored_bytes == 2 * 100 + 50);
  CHECK(c.unavailable == 1);
  CHECK(index.wanted_replicas(*index.find_name("thin")) == 3);
  CHECK(index.wanted_replicas(*index.find_name("full")) == 2);
}

TEST_CASE("publish replaces the wanted replicas of a known file") {
  FileIndex index(3);
  index.add_holding(fake_manifest("f", 10, 0, 1), "p1");
  REQUIRE(index.publish(fake_manifest("f", 10, 0, 5), {"p1"}, false).ok());
  CHECK(index.wanted_replicas(*index.find_name("f")) == 5);
}

TEST_CASE("search returns matching named files sorted by name") {
  FileIndex index(3);
  for (const char* name : {"zeta.txt", "Alpha.TXT", "beta.bin", "gamma.txt"})
    index.add_holding(fake_manifest(name, 10), "p1");

  auto names = [](const std::vector<const FileRecord*>& files) {
    std::vector<std::string> out;
    for (const auto* f : files) out.push_back(f->manifest.name);
    return out;
  };
  CHECK(names(index.search(NamePattern("*.txt"), 100)) == std::vector<std::string>{"Alpha.TXT", "gamma.txt", "zeta.txt"});
  CHECK(names(index.search(NamePattern("ETA"), 100)) == std::vector<std::string>{"beta.bin", "zeta.txt"});
  CHECK(index.search(NamePattern(""), 100).size() == 4);
  CHECK(names(index.search(NamePattern(""), 2)) == std::vector<std::string>{"Alpha.TXT", "beta.bin"});
  CHECK(index.search(NamePattern("nothing"), 100).empty());
}

TEST_CASE("holder that dies is a loss remembered with the count before it") {
  FileIndex index(3);
  Manifest m = fake_manifest("doc", 1000);
  for (const char* p : {"p1", "p2", "p3"}) index.add_holding(m, p);
  const Clock::time_point t1 = Clock::time_point{} + std::chrono::hours(1);
  const Clock::time_point t2 = t1 + std::chrono::seconds(1);
  REQUIRE(index.remove_peer("p1", t1) == 1);
  REQUIRE(index.remove_peer("p2", t2) == 1);
  const FileRecord* f = index.find(m.file_id());
  REQUIRE(f != nullptr);
  CHECK(f->lost_at == t2);
  CHECK(f->holders_before_loss == 3);  // a burst of losses counts from before the first
  CHECK(f->holders.size() == 1);
}

TEST_CASE("a peer departing in steps is taken off its files in order, each a loss as of its departure") {
  FileIndex index(3);
  std::vector<Manifest> files;
  for (int i = 0; i < 5; ++i) files.push_back(fake_manifest(std::string("f").append(std::to_string(i)), 100));
  for (const Manifest& m : files)
    for (const char* p : {"p1", "p2"}) index.add_holding(m, p);
  const Clock::time_point left = Clock::time_point{} + std::chrono::hours(1);
  REQUIRE(index.start_departure("p1", left) == 5);
  CHECK(index.files_held_by("p1") == 0);  // gone from the peer's view at once
  CHECK(index.departed_holdings() == 5);
  CHECK(index.counts().stored_bytes == 1000);  // still counted until the steps reach them
  std::vector<Hash> ids;
  for (const Manifest& m : files) ids.push_back(m.file_id());
  std::sort(ids.begin(), ids.end());
  // Each file is a unit of work twice: found (here in runs of 2, 2 and 1),
  // then taken off.
  index.remove_departed(2);
  index.remove_departed(2);
  CHECK(index.departed_holdings() == 5);
  index.remove_departed(1 + 2);
  CHECK(index.departed_holdings() == 3);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("file " << i << " by id");
    CHECK(index.find(ids[i])->holders.contains("p1") == (i >= 2));
  }
  index.remove_departed(100);
  CHECK_FALSE(index.departing());
  CHECK(index.counts().stored_bytes == 500);
  for (const Hash& id : ids) {
    const FileRecord* f = index.find(id);
    CHECK(f->holders.size() == 1);
    CHECK(f->lost_at == left);
    CHECK(f->holders_before_loss == 2);
  }
}

TEST_CASE("a peer that announces again before its departure is done keeps what it announces") {
  FileIndex index(3);
  const Manifest kept = fake_manifest("kept", 100), gone = fake_manifest("gone", 100);
  for (const Manifest& m : {kept, gone}) index.add_holding(m, "p1");
  index.add_holding(kept, "p2");
  REQUIRE(index.start_departure("p1", Clock::time_point{} + std::chrono::hours(1)) == 2);
  index.add_holding(kept, "p1");  // restarted, and announces one of the two again
  CHECK_FALSE(index.departing());
  CHECK(index.find(kept.file_id())->holders.size() == 2);
  CHECK(index.find(gone.file_id())->holders.empty());
  CHECK(index.files_held_by("p1") == 1);
}

TEST_CASE("removed holding is dropped without counting as a loss") {
  FileIndex index(3);
  Manifest m = fake_manifest("doc", 1000);
  Manifest other = fake_manifest("other", 10);
  index.add_holding(m, "p1");
  index.add_holding(m, "p2");
  index.add_holding(other, "p2");
  CHECK(index.remove_holding(m.file_id(), "p2"));
  CHECK_FALSE(index.remove_holding(m.file_id(), "p2"));  // not a holder any more
  const FileRecord* f = index.find(m.file_id());
  REQUIRE(f != nullptr);
  CHECK(std::set<std::string>(f->holders.begin(), f->holders.end()) == std::set<std::string>{"p1"});
  CHECK(f->lost_at == Clock::time_point{});
  CHECK(index.files_held_by("p2") == 1);
  REQUIRE(index.held_by("p2").size() == 1);
  CHECK(index.held_by("p2")[0]->id == other.file_id());
  CHECK(index.all_files().size() == 2);
}

TEST_CASE("trim lowers the holder count a repair waits for") {
  FileIndex index(2);
  Manifest m = fake_manifest("doc", 1000);
  for (const char* p : {"p1", "p2", "p3"}) index.add_holding(m, p);
  REQUIRE(index.remove_peer("p1", Clock::time_point{} + std::chrono::hours(1)) == 1);
  CHECK(index.find(m.file_id())->holders_before_loss == 3);
  REQUIRE(index.remove_holding(m.file_id(), "p2"));  // trimmed: not coming back
  CHECK(index.find(m.file_id())->holders_before_loss == 1);
}

TEST_CASE("index version moves on every change of files or holders") {
  FileIndex index(3);
  std::uint64_t v = index.version();
  auto moved = [&] {
    const bool m = index.version() != v;
    v = index.version();
    return m;
  };
  const Manifest m = fake_manifest("a.txt", 10);
  index.add_holding(m, "p1");
  CHECK(moved());
  REQUIRE(index.publish(fake_manifest("a.txt", 10, 0, 2), {"p2"}, false).ok());  // k and a holder
  CHECK(moved());
  CHECK(index.remove_holding(m.file_id(), "p2"));
  CHECK(moved());
  CHECK_FALSE(index.remove_holding(m.file_id(), "p2"));
  CHECK_FALSE(moved());
  CHECK(index.remove_peer("p1", Clock::time_point{}) == 1);
  CHECK(moved());
  CHECK(index.remove_peer("p1", Clock::time_point{}) == 0);
  CHECK_FALSE(moved());
  CHECK_FALSE(index.publish(fake_manifest("a.txt", 10, 1), {}, false).ok());  // refused: name taken
  CHECK_FALSE(moved());
}

namespace {

// One random change of the kind the broker makes: announces, publishes
// (with and without force, two contents per name), removals and peer losses.
// `stepped`: peers depart in steps (start_departure, remove_departed).
void random_change(FileIndex& index, const std::vector<std::string>& peers, std::mt19937& rng, Clock::time_point now,
                   bool stepped) {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::string name = std::string("f").append(std::to_string(pick(40)));
  const int seed = static_cast<int>(pick(2));
  const auto replicas = static_cast<std::uint32_t>(pick(5));
  const std::string& peer = peers[pick(peers.size())];
  switch (pick(5)) {
    case 0:
    case 1:
      index.add_holding(fake_manifest(name, 10 + pick(100), seed, replicas), peer);
      break;
    case 2:
      (void)index.publish(fake_manifest(name, 10 + pick(100), seed, replicas), {peer}, pick(2) == 0);
      break;
    case 3:
      if (const FileRecord* f = index.find_name(name)) (void)index.remove_holding(f->id, peer);
      break;
    default:
      if (pick(8) != 0) break;
      if (stepped)
        index.start_departure(peer, now);
      else
        index.remove_peer(peer, now);
  }
  // The broker takes a step between messages: here 0-2 files a change, so
  // departures overlap each other and the other changes.
  if (stepped) index.remove_departed(pick(3));
}

constexpr std::size_t kPeers = 4;

using IndexCheck = std::function<void(const FileIndex&, Clock::time_point)>;

// 3,000 random changes of an index over kPeers peers, one a second (as
// remove_peer is told), `check` after each with the time of the change.
// With a `period`, the first `paused` changes of every period are made with
// the short files not kept (pause_short_files, as in the tracker's safe
// mode), and `check` runs only once they are kept again. `stepped`: peers
// depart in steps, and `check` runs only when no departure is in progress.
// Returns how many checks ran.
int random_walk(unsigned seed, const IndexCheck& check, int period = 0, int paused = 0, bool stepped = false) {
  FileIndex index(3);
  const std::vector<std::string> peers{"p1", "p2", "p3", "p4"};
  std::mt19937 rng(seed);
  int checks = 0;
  for (int step = 0; step < 3000; ++step) {
    const Clock::time_point now = Clock::time_point{} + std::chrono::hours(1) + std::chrono::seconds(step);
    if (period != 0 && step % period == 0) index.pause_short_files();
    if (period != 0 && step % period == paused) index.keep_short_files();
    random_change(index, peers, rng, now, stepped);
    if (period != 0 && step % period < paused) continue;
    if (index.departing()) continue;
    check(index, now);
    ++checks;
  }
  return checks;
}

// Short and surplus files as a visit finds them, against a pass over every
// file; a repair grace of 20 changes (about one file in ten waits in it).
void check_visits(const FileIndex& index, Clock::time_point now) {
  const Clock::time_point loss_cutoff = now - std::chrono::seconds(20);
  for (std::size_t eligible = 0; eligible <= kPeers; ++eligible) {
    std::vector<std::pair<std::size_t, Hash>> pass;  // (holders, id) of every short file out of its grace
    bool in_grace = false;
    for (const FileRecord* f : index.all_files()) {
      const std::size_t n = f->holders.size();
      if (n == 0 || n >= std::min<std::size_t>(index.wanted_replicas(*f), eligible)) continue;
      if (n < f->holders_before_loss && f->lost_at > loss_cutoff)
        in_grace = true;
      else
        pass.emplace_back(n, f->id);
    }
    std::sort(pass.begin(), pass.end());
    REQUIRE(index.short_in_repair_grace(eligible, loss_cutoff) == in_grace);
    std::vector<std::pair<std::size_t, Hash>> visited;
    index.visit_short(eligible, loss_cutoff, [&](const FileRecord& f) {
      visited.emplace_back(f.holders.size(), f.id);
      return true;
    });
    REQUIRE(visited == pass);
  }
  std::vector<Hash> surplus, visited;
  for (const FileRecord* f : index.all_files())
    if (f->holders.size() > index.wanted_replicas(*f)) surplus.push_back(f->id);
  std::sort(surplus.begin(), surplus.end());
  index.visit_surplus([&](const FileRecord& f) { visited.push_back(f.id); });
  REQUIRE(visited == surplus);
}

// Counts and short-of-holders numbers against a pass over every file.
void check_counts(const FileIndex& index, Clock::time_point) {
  IndexCounts pass;
  std::vector<std::uint32_t> short_of(kPeers + 1, 0);
  for (const FileRecord* f : index.all_files()) {
    ++pass.files;
    pass.bytes += f->manifest.size;
    pass.stored_bytes += f->manifest.size * f->holders.size();
    if (f->holders.empty()) ++pass.unavailable;
    for (std::size_t e = 0; e <= kPeers; ++e)
      if (f->holders.size() < std::min<std::size_t>(index.wanted_replicas(*f), e)) ++short_of[e];
  }
  const IndexCounts kept = index.counts();
  REQUIRE(kept.files == pass.files);
  REQUIRE(kept.bytes == pass.bytes);
  REQUIRE(kept.stored_bytes == pass.stored_bytes);
  REQUIRE(kept.unavailable == pass.unavailable);
  for (std::size_t e = 0; e <= kPeers; ++e) REQUIRE(index.short_of_holders(e) == short_of[e]);
}

}  // namespace

TEST_CASE("counts and files short of holders follow every change as a pass over every file would") {
  random_walk(7, check_counts);
}

TEST_CASE("short and surplus files are visited as a pass over every file would find them, fewest holders first") {
  random_walk(11, check_visits);
}

TEST_CASE("short files changed while they were not kept are visited as a pass would find them once they are kept "
          "again") {
  // Paused for 150 of every 200 changes: files become short, are repaired,
  // lose holders and wait in their grace meanwhile.
  random_walk(13, check_visits, 200, 150);
}

TEST_CASE("a visit of short files stops when the visitor says so") {
  FileIndex index(3);
  for (int i = 0; i < 5; ++i) index.add_holding(fake_manifest(std::string("s").append(std::to_string(i)), 10), "p1");
  int seen = 0;
  index.visit_short(4, Clock::now(), [&](const FileRecord&) { return ++seen < 2; });
  CHECK(seen == 2);
}

TEST_CASE("peers departing in steps, among other changes, leave the counts and short files a pass would find once "
          "the steps are done") {
  // Checked only between departures: enough of them that most departures
  // are followed by one.
  CHECK(random_walk(17, check_counts, 0, 0, true) > 500);
  CHECK(random_walk(19, check_visits, 0, 0, true) > 500);
  CHECK(random_walk(23, check_visits, 200, 150, true) > 100);
}
