#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "client/load/size_spec.h"

using namespace p2p::client::load;

TEST_CASE("a size takes binary units in any case, or none") {
  CHECK(parse_size("17").value() == 17);
  CHECK(parse_size("17B").value() == 17);
  CHECK(parse_size("4KiB").value() == 4096);
  CHECK(parse_size("4k").value() == 4096);
  CHECK(parse_size("4KB").value() == 4096);
  CHECK(parse_size("1M").value() == 1048576);
  CHECK(parse_size("32MiB").value() == 32ull << 20);
  CHECK(parse_size("2gib").value() == 2ull << 30);
  CHECK(parse_size("0").value() == 0);
}

TEST_CASE("a size with an unknown unit, no number or too many bytes is rejected") {
  for (const char* text : {"4X", "KiB", "", "-1", "1.5M", "4 KiB", "18446744073709551616", "17179869184G"}) {
    INFO(text);
    auto size = parse_size(text);
    REQUIRE_FALSE(size.ok());
    CHECK(size.status().code() == p2p::ErrorCode::kBadRequest);
  }
}

TEST_CASE("a size spec keeps its choices in order with their weights") {
  auto spec = SizeSpec::parse("4KiB:90,1MiB:8,32MiB:2");
  REQUIRE(spec.ok());
  REQUIRE(spec->choices().size() == 3);
  CHECK(spec->choices()[0].bytes == 4096);
  CHECK(spec->choices()[0].weight == 90);
  CHECK(spec->choices()[1].bytes == 1u << 20);
  CHECK(spec->choices()[2].bytes == 32u << 20);
  CHECK(spec->choices()[2].weight == 2);
}

TEST_CASE("an empty or malformed size spec is rejected naming the bad item") {
  for (const char* text : {"", "4KiB", "4KiB:0", "4KiB:x", ":5", "4KiB:1,", "4Q:1"}) {
    INFO(text);
    auto spec = SizeSpec::parse(text);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().message().find("--sizes") != std::string::npos);
  }
  CHECK(SizeSpec::parse("4Q:1").status().message().find("4Q") != std::string::npos);
}

TEST_CASE("a size spec draws its sizes in proportion to their weights") {
  auto spec = SizeSpec::parse("1K:9,1M:1");
  REQUIRE(spec.ok());
  std::mt19937_64 rng(7);
  std::map<std::uint64_t, int> seen;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) ++seen[spec->pick(rng)];
  CHECK(seen.size() == 2);
  CHECK(seen[1024] == Approx(kDraws * 0.9).epsilon(0.02));
  CHECK(seen[1u << 20] == Approx(kDraws * 0.1).epsilon(0.1));
}
