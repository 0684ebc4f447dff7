// HolderSet: a file's holders as sorted pointers to interned peer ids.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "services/tracker/holder_set.h"

using p2p::tracker::HolderSet;

namespace {

std::vector<std::string> ids_of(const HolderSet& set) { return {set.begin(), set.end()}; }

}  // namespace

TEST_CASE("holders iterate in id order whatever order they were added in") {
  const std::string a = "0a00000000000001", b = "0b00000000000002", c = "ff00000000000003";
  HolderSet set;
  CHECK(set.insert(&c));
  CHECK(set.insert(&a));
  CHECK(set.insert(&b));
  CHECK(ids_of(set) == std::vector<std::string>{a, b, c});
  CHECK(set.size() == 3);
}

TEST_CASE("a holder is in a set once, found by its id whichever copy of the id asks") {
  const std::string a = "0a00000000000001";
  const std::string same_id = a;  // another string, the same id
  HolderSet set;
  CHECK(set.insert(&a));
  CHECK_FALSE(set.insert(&same_id));
  CHECK(set.size() == 1);
  CHECK(set.contains("0a00000000000001"));
  CHECK_FALSE(set.contains("0a00000000000002"));
  CHECK(&*set.begin() == &a);  // the first copy stays
}

TEST_CASE("erasing a holder keeps the others in order and an absent one changes nothing") {
  const std::string a = "a", b = "b", c = "c";
  HolderSet set;
  for (const std::string* id : {&a, &b, &c}) set.insert(id);
  CHECK(set.erase("b"));
  CHECK_FALSE(set.erase("b"));
  CHECK(ids_of(set) == std::vector<std::string>{a, c});
  CHECK(set.erase("a"));
  CHECK(set.erase("c"));
  CHECK(set.empty());
  CHECK(set.begin() == set.end());
}
