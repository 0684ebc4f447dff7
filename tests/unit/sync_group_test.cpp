#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/sync_group.h"
#include "tests/support/eventually.h"
#include "tests/support/gate.h"

using namespace p2p;
using namespace std::chrono_literals;

namespace {

// A flush that reports which run it was and can be held inside run 1 (for
// at most 10 s).
struct HeldFlush {
  test::Gate released;
  std::atomic<int> runs{0};

  Status operator()() {
    const int run = ++runs;
    if (run == 1) (void)released.wait(10s);
    return {ErrorCode::kIo, "run " + std::to_string(run)};
  }
  void release() { released.open(); }
};

}  // namespace

TEST_CASE("a lone sync runs the flush once and returns its status") {
  int runs = 0;
  SyncGroup group([&] {
    ++runs;
    return Status::Ok();
  });
  CHECK(group.sync().ok());
  CHECK(group.sync().ok());
  CHECK(runs == 2);
  CHECK(group.flushes() == 2);
}

TEST_CASE("syncs that arrive during a flush share the next one and get its status") {
  HeldFlush flush;
  SyncGroup group([&] { return flush(); });
  Status first;
  std::thread leader([&] { first = group.sync(); });
  REQUIRE(test::eventually([&] { return flush.runs == 1; }, 5000ms, 1ms));

  // These callers' writes may be newer than run 1: it must not count for them.
  constexpr int kLate = 6;
  std::vector<Status> late(kLate);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLate; ++i) threads.emplace_back([&, i] { late[i] = group.sync(); });
  REQUIRE(test::eventually([&] { return group.waiting() == kLate; }, 5000ms, 1ms));
  flush.release();
  leader.join();
  for (auto& t : threads) t.join();

  CHECK(first.message() == "run 1");
  for (const Status& s : late) CHECK(s.message() == "run 2");
  CHECK(flush.runs == 2);  // one flush for all six
  CHECK(group.flushes() == 2);
}
