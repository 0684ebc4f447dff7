// put and get through the real binaries: round trips, re-puts, name rules,
// local-file errors and resuming an interrupted get.
#include <catch2/catch.hpp>

#include <sys/xattr.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/support/cluster.h"
#include "tests/support/json_output.h"
#include "tests/support/random_file.h"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;

// put SRC as NAME, get it back to OUT, and check both runs and the bytes.
void round_trip(const Cluster& c, std::uint64_t size, const std::string& name, std::uint64_t seed) {
  fs::path src = c.path(name + ".src");
  fs::path out = c.path(name + ".out");
  write_random_file(src, size, seed);
  INFO("size " << size);

  RunResult put = c.p2p({"put", src.string(), "--name", name, "--json"});
  INFO(describe(put));
  REQUIRE(put.exit_code == 0);
  auto stored = parse_json(put);
  CHECK(stored["size"] == size);
  CHECK(stored["name"] == name);

  RunResult get = c.p2p({"get", name, "-o", out.string(), "--json"});
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  auto got = parse_json(get);
  CHECK(got["file_id"] == stored["file_id"]);
  CHECK(got["size"] == size);
  CHECK(fs::file_size(out) == size);
  CHECK(sha256_file(out) == sha256_file(src));
  CHECK_FALSE(fs::exists(out.string() + ".part"));
}

}  // namespace

TEST_CASE("put then get round-trips 0 B and 1 B and 1 MiB+1 files byte-identical", "[put][get]") {
  Cluster c;
  round_trip(c, 0, "empty.bin", 1);
  round_trip(c, 1, "one.bin", 2);
  round_trip(c, kMiB + 1, "mib-plus-one.bin", 3);
}

TEST_CASE("get by file id returns the same bytes as get by name", "[put][get]") {
  Cluster c;
  fs::path src = c.path("src");
  write_random_file(src, 3 * kMiB + 17, 4);
  auto stored = parse_json(c.p2p({"put", src.string(), "--name", "by-id.bin", "--json"}));
  std::string id = stored["file_id"];
  REQUIRE(id.size() == 64);
  RunResult get = c.p2p({"get", id, "-o", c.path("out").string()});
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  CHECK(same_content(src, c.path("out")));
}

TEST_CASE("a 200 MiB random file round-trips byte-identical", "[put][get][large]") {
  Cluster c;
  round_trip(c, 200 * kMiB, "large.bin", 5);
}

TEST_CASE("putting identical content again succeeds and changes nothing", "[put]") {
  Cluster c;
  fs::path src = c.path("src");
  write_random_file(src, 2 * kMiB + 5, 6);
  auto first = parse_json(c.p2p({"put", src.string(), "--name", "same.bin", "--json"}));
  auto before = parse_json(c.p2p({"ls", "--json"}));

  RunResult again = c.p2p({"put", src.string(), "--name", "same.bin", "--json"});
  INFO(describe(again));
  REQUIRE(again.exit_code == 0);
  CHECK(parse_json(again)["file_id"] == first["file_id"]);
  auto after = parse_json(c.p2p({"ls", "--json"}));
  REQUIRE(after.size() == 1);
  CHECK(after[0]["file_id"] == before[0]["file_id"]);
  CHECK(after[0]["size"] == before[0]["size"]);
}

TEST_CASE("different content under an existing name exits 10 and --force replaces it", "[put]") {
  Cluster c;
  fs::path first = c.path("first"), second = c.path("second");
  write_random_file(first, kMiB + 3, 7);
  write_random_file(second, kMiB + 3, 8);
  auto stored = parse_json(c.p2p({"put", first.string(), "--name", "doc.bin", "--json"}));

  RunResult clash = c.p2p({"put", second.string(), "--name", "doc.bin"});
  INFO(describe(clash));
  CHECK(clash.exit_code == 10);
  RunResult still = c.p2p({"get", "doc.bin", "-o", c.path("still").string()});
  REQUIRE(still.exit_code == 0);
  CHECK(same_content(first, c.path("still")));

  RunResult forced = c.p2p({"put", second.string(), "--name", "doc.bin", "--force", "--json"});
  INFO(describe(forced));
  REQUIRE(forced.exit_code == 0);
  CHECK(parse_json(forced)["file_id"] != stored["file_id"]);
  RunResult now = c.p2p({"get", "doc.bin", "-o", c.path("now").string()});
  INFO(describe(now));
  REQUIRE(now.exit_code == 0);
  CHECK(same_content(second, c.path("now")));
}

TEST_CASE("invalid names exit 11", "[put][names]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  fs::path src = c.path("src");
  write_random_file(src, 100, 9);
  for (std::string bad : {std::string("a/b"), std::string("a\\b"), std::string("."),
                          std::string(".."), std::string("tab\there"), std::string(256, 'x')}) {
    RunResult put = c.p2p({"put", src.string(), "--name", bad});
    INFO(describe(put));
    CHECK(put.exit_code == 11);
  }
  auto listed = parse_json(c.p2p({"ls", "--json"}));
  CHECK(listed.empty());
  // The longest valid name is accepted.
  RunResult longest = c.p2p({"put", src.string(), "--name", std::string(255, 'y')});
  INFO(describe(longest));
  CHECK(longest.exit_code == 0);
}

TEST_CASE("an explicitly empty --name exits 11 instead of falling back to the file name", "[put][names]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  fs::path src = c.path("src");
  write_random_file(src, 100, 9);
  RunResult put = c.p2p({"put", src.string(), "--name", ""});
  INFO(describe(put));
  CHECK(put.exit_code == 11);
  CHECK(parse_json(c.p2p({"ls", "--json"})).empty());
}

TEST_CASE("put of a missing local file exits 7", "[put]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  RunResult put = c.p2p({"put", c.path("does-not-exist").string()});
  INFO(describe(put));
  CHECK(put.exit_code == 7);
}

TEST_CASE("get refuses an existing output without --force (exit 8) and overwrites it with --force", "[get]") {
  Cluster c(ClusterOptions{}.with_peers(1));
  fs::path src = c.path("src"), out = c.path("out");
  write_random_file(src, 64 * 1024 + 1, 10);
  REQUIRE(c.p2p({"put", src.string(), "--name", "f.bin"}).exit_code == 0);
  write_random_file(out, 10, 11);
  const auto before = sha256_file(out);

  RunResult refused = c.p2p({"get", "f.bin", "-o", out.string()});
  INFO(describe(refused));
  CHECK(refused.exit_code == 8);
  CHECK(sha256_file(out) == before);

  RunResult forced = c.p2p({"get", "f.bin", "-o", out.string(), "--force"});
  INFO(describe(forced));
  REQUIRE(forced.exit_code == 0);
  CHECK(same_content(src, out));
}

TEST_CASE("an interrupted get resumes from OUT.part and reuses its good chunks", "[get][resume]") {
  Cluster c;
  fs::path src = c.path("src"), out = c.path("out");
  const std::uint64_t size = 8 * kMiB + 3;  // default 1 MiB chunks
  write_random_file(src, size, 12);
  RunResult put = c.p2p({"put", src.string(), "--name", "resume.bin", "--json"});
  REQUIRE(put.exit_code == 0);
  const std::string file_id = parse_json(put)["file_id"].get<std::string>();

  // OUT.part as a killed get could leave it: 3 good chunks, then 1 MiB of
  // garbage, marked as the client marks the .part of a get of this file.
  fs::path part = out.string() + ".part";
  fs::copy_file(src, part);
  fs::resize_file(part, 4 * kMiB);
  overwrite_random(part, 3 * kMiB, kMiB, 13);
  REQUIRE(::setxattr(part.c_str(), "user.p2p.file_id", file_id.data(), file_id.size(), 0) == 0);

  RunResult get = c.p2p({"get", "resume.bin", "-o", out.string(), "--json"});
  INFO(describe(get));
  REQUIRE(get.exit_code == 0);
  auto j = parse_json(get);
  REQUIRE(j["reused_bytes"].get<std::uint64_t>() > 0);
  CHECK(j["reused_bytes"] == 3 * kMiB);
  CHECK(j["fetched_bytes"] == size - 3 * kMiB);
  CHECK(same_content(src, out));
  CHECK_FALSE(fs::exists(part));
}
