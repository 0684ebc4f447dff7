#include <catch2/catch.hpp>

#include <map>

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
  auto chosen = choose_peers(kThreePeers, 50, 2, "f");
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"b", "c"});
  CHECK(chosen->front().endpoint == "tcp://b:1");
}

TEST_CASE("placement returns every live peer when k exceeds them") {
  auto chosen = choose_peers(kThreePeers, 10, 5, "f");
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"b", "c", "a"});
}

TEST_CASE("placement skips peers without room for the file") {
  auto chosen = choose_peers(kThreePeers, 150, 3, "f");
  REQUIRE(chosen.ok());
  CHECK(ids(chosen.value()) == std::vector<std::string>{"b", "c"});
  auto exact = choose_peers(kThreePeers, 300, 3, "f");  // free == size is enough
  REQUIRE(exact.ok());
  CHECK(ids(exact.value()) == std::vector<std::string>{"b"});
}

TEST_CASE("placement without live peers is no_peers") {
  auto chosen = choose_peers({}, 1, 3, "f");
  REQUIRE_FALSE(chosen.ok());
  CHECK(chosen.status().code() == ErrorCode::kNoPeers);
}

TEST_CASE("placement when no live peer has room is no_space") {
  auto chosen = choose_peers(kThreePeers, 301, 1, "f");
  REQUIRE_FALSE(chosen.ok());
  CHECK(chosen.status().code() == ErrorCode::kNoSpace);
}

TEST_CASE("peers with about the same free space share the files by name") {
  // Four peers within a tenth of the roomiest, one well below it.
  const std::vector<PlacementCandidate> peers{
      {"p1", "", 1000}, {"p2", "", 990}, {"p3", "", 1000}, {"p4", "", 950}, {"low", "", 800}};
  std::map<std::string, int> first, chosen;
  constexpr int kNames = 4000;
  for (int i = 0; i < kNames; ++i) {
    const std::string name = "file-" + std::to_string(i);
    auto three = choose_peers(peers, 1, 3, name);
    REQUIRE(three.ok());
    REQUIRE(three->size() == 3);
    ++first[three->front().peer_id];
    for (const auto& c : three.value()) ++chosen[c.peer_id];
    CHECK(ids(three.value()) == ids(choose_peers(peers, 1, 3, name).value()));  // repeatable
  }
  CHECK(chosen["low"] == 0);  // the roomy four are enough for k = 3
  for (const char* id : {"p1", "p2", "p3", "p4"}) {
    INFO(id);
    CHECK(first[id] > kNames / 4 * 8 / 10);  // head of the pipeline: a quarter each, +-20%
    CHECK(first[id] < kNames / 4 * 12 / 10);
    CHECK(chosen[id] > kNames * 3 / 4 * 9 / 10);  // in three quarters of the answers, +-10%
    CHECK(chosen[id] < kNames * 3 / 4 * 11 / 10);
  }
  // k above the roomy peers: the low one comes last.
  auto five = choose_peers(peers, 1, 5, "x");
  REQUIRE(five.ok());
  CHECK(five->back().peer_id == "low");
}
