// Many clients fetching the same file at the same time.
#include <catch2/catch.hpp>

#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/random_file.h"

using namespace p2p::test;
namespace fs = std::filesystem;

TEST_CASE("16 concurrent gets of one file are all byte-identical", "[concurrency]") {
  constexpr int kClients = 16;
  Cluster c;
  fs::path src = c.path("src");
  write_random_file(src, 8 * (1u << 20) + 7, 20);
  RunResult put = c.p2p({"put", src.string(), "--name", "shared.bin"});
  INFO(describe(put));
  REQUIRE(put.exit_code == 0);
  const auto want = sha256_file(src);

  std::vector<std::future<RunResult>> gets;
  for (int i = 0; i < kClients; ++i) {
    std::string out = c.path("out" + std::to_string(i)).string();
    gets.push_back(std::async(std::launch::async, [&c, out] { return c.p2p({"get", "shared.bin", "-o", out}); }));
  }
  for (int i = 0; i < kClients; ++i) {
    RunResult r = gets[i].get();
    INFO("client " << i << "\n" << describe(r));
    CHECK(r.exit_code == 0);
    fs::path out = c.path("out" + std::to_string(i));
    REQUIRE(fs::exists(out));
    CHECK(sha256_file(out) == want);
  }
  CHECK(c.live_peers() == 3u);
}
