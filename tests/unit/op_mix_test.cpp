#include <catch2/catch.hpp>

#include <array>
#include <random>

#include "client/load/op_mix.h"

using namespace p2p::client::load;

TEST_CASE("a mix gives each listed operation its weight and the others zero") {
  auto mix = OpMix::parse("get=80,search=20");
  REQUIRE(mix.ok());
  CHECK(mix->weight(Op::kGet) == 80);
  CHECK(mix->weight(Op::kSearch) == 20);
  CHECK(mix->weight(Op::kPut) == 0);
  CHECK(mix->weight(Op::kLocate) == 0);
}

TEST_CASE("a mix with an unknown operation is rejected") {
  auto mix = OpMix::parse("get=80,delete=20");
  REQUIRE_FALSE(mix.ok());
  CHECK(mix.status().code() == p2p::ErrorCode::kBadRequest);
  CHECK(mix.status().message().find("delete") != std::string::npos);
}

TEST_CASE("a mix naming an operation twice is rejected") {
  auto mix = OpMix::parse("get=1,put=1,get=2");
  REQUIRE_FALSE(mix.ok());
  CHECK(mix.status().message().find("twice") != std::string::npos);
}

TEST_CASE("a mix with a zero, negative, missing or non-numeric weight is rejected") {
  for (const char* text : {"get=0", "get=-1", "get=", "get", "get=x", "=5", "", "get=1,,put=1", "get=1000001"}) {
    INFO(text);
    CHECK_FALSE(OpMix::parse(text).ok());
  }
}

TEST_CASE("a mix draws only weighted operations, in proportion to their weights") {
  auto mix = OpMix::parse("get=3,locate=1");
  REQUIRE(mix.ok());
  std::mt19937_64 rng(42);
  std::array<int, kOpCount> seen{};
  constexpr int kDraws = 40000;
  for (int i = 0; i < kDraws; ++i) ++seen[static_cast<std::size_t>(mix->pick(rng))];
  CHECK(seen[static_cast<std::size_t>(Op::kPut)] == 0);
  CHECK(seen[static_cast<std::size_t>(Op::kSearch)] == 0);
  // 3:1 within a few percent (binomial sd is ~0.2% of the draws here).
  CHECK(seen[static_cast<std::size_t>(Op::kGet)] == Approx(kDraws * 0.75).epsilon(0.03));
  CHECK(seen[static_cast<std::size_t>(Op::kLocate)] == Approx(kDraws * 0.25).epsilon(0.05));
}

TEST_CASE("operation names are the words of --mix") {
  CHECK(std::string(op_name(Op::kGet)) == "get");
  CHECK(std::string(op_name(Op::kPut)) == "put");
  CHECK(std::string(op_name(Op::kSearch)) == "search");
  CHECK(std::string(op_name(Op::kLocate)) == "locate");
}
