#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "services/peer/peer_id.h"
#include "services/peer/peer_options.h"

using namespace p2p::peer;

TEST_CASE("capacity accepts plain bytes and K/M/G/T suffixes") {
  CHECK(parse_byte_size("4096") == 4096u);
  CHECK(parse_byte_size("64K") == 64u << 10);
  CHECK(parse_byte_size("10m") == 10u << 20);
  CHECK(parse_byte_size("2G") == 2ull << 30);
  CHECK(parse_byte_size("1TiB") == 1ull << 40);
  CHECK(parse_byte_size("5MB") == 5u << 20);
  CHECK_FALSE(parse_byte_size(""));
  CHECK_FALSE(parse_byte_size("G"));
  CHECK_FALSE(parse_byte_size("12X"));
  CHECK_FALSE(parse_byte_size("-1"));
  CHECK_FALSE(parse_byte_size("99999999999999999999"));
  CHECK_FALSE(parse_byte_size("99999999999T"));
}

TEST_CASE("wildcard listen endpoints are recognised") {
  CHECK(is_wildcard_endpoint("tcp://*:5000"));
  CHECK(is_wildcard_endpoint("tcp://0.0.0.0:0"));
  CHECK_FALSE(is_wildcard_endpoint("tcp://127.0.0.1:0"));
}

TEST_CASE("peer id is created once and kept across restarts") {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / ("p2p-peer-id-test-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  auto first = load_or_create_peer_id(dir);
  REQUIRE(first.ok());
  CHECK(is_valid_peer_id(first.value()));
  auto second = load_or_create_peer_id(dir);
  REQUIRE(second.ok());
  CHECK(second.value() == first.value());
  std::ofstream(dir / "peer_id") << "garbage";  // a damaged id is replaced
  auto third = load_or_create_peer_id(dir);
  REQUIRE(third.ok());
  CHECK(is_valid_peer_id(third.value()));
  std::filesystem::remove_all(dir);
}
