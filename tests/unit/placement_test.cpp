#include <catch2/catch.hpp>

#include "services/tracker/placement.h"

using namespace p2p;
using namespace p2p::tracker;

namespace {

std::vector<std::string> ids(const std::vector<PlacementCandidate>& chosen) {
  std::vector<std::string> out;
  for (const auto& c : chosen) out.push_back(c.peer_id);
  return out;
}

const std::vector<PlacementCandidate> kThreePeers{
    {"a", "tcp://a:1", 100},
    {"b", "tcp://b:1", 300},
    {"c", "tcp://c:1", 200},
};

}  // namespace

TEST_CASE("placement picks the peers with most free space first") {
  auto chosen = choose_peers(kThreePeers, 50, 2);
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"b", "c"});
  CHECK(chosen->front().endpoint == "tcp://b:1");
}

TEST_CASE("placement returns every live peer when k exceeds them") {
  auto chosen = choose_peers(kThreePeers, 10, 5);
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"b", "c", "a"});
}

TEST_CASE("placement skips peers without room for the file") {
  auto chosen = choose_peers(kThreePeers, 150, 3);
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"b", "c"});
  auto exact = choose_peers(kThreePeers, 300, 3);  // free == size is enough
  REQUIRE(exact.ok());
  CHECK(ids(exact.value()) == std::vector<std::string>{"b"});
}

TEST_CASE("placement without live peers is no_peers") {
  auto chosen = choose_peers({}, 1, 3);
  REQUIRE_FALSE(chosen.ok());
  CHECK(chosen.status().code() == ErrorCode::kNoPeers);
}

TEST_CASE("placement when no live peer has room is no_space") {
  auto chosen = choose_peers(kThreePeers, 301, 1);
  REQUIRE_FALSE(chosen.ok());
  CHECK(chosen.status().code() == ErrorCode::kNoSpace);
}

TEST_CASE("placement breaks free-space ties by peer id") {
  auto chosen = choose_peers({{"z", "", 10}, {"m", "", 10}, {"q", "", 10}}, 1, 2);
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"m", "q"});
}
