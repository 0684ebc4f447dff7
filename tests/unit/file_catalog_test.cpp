#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/load/file_catalog.h"
#include "common/sha256.h"
#include "tests/support/numbered.h"

using namespace p2p::client::load;

namespace {

CatalogEntry entry(const std::string& name, std::uint64_t size) { return {name, size, p2p::sha256(name.data(), name.size())}; }

}  // namespace

TEST_CASE("an empty file catalog picks nothing") {
  FileCatalog catalog;
  std::mt19937_64 rng(1);
  CHECK(catalog.size() == 0);
  CHECK_FALSE(catalog.pick(rng).has_value());
}

TEST_CASE("a file catalog keeps its entries in the order added") {
  FileCatalog catalog;
  catalog.add(entry("a", 1));
  catalog.add(entry("b", 2));
  catalog.add(entry("c", 3));
  REQUIRE(catalog.size() == 3);
  CHECK(catalog.at(0).name == "a");
  CHECK(catalog.at(1).name == "b");
  CHECK(catalog.at(1).size == 2);
  CHECK(catalog.at(2).sha256 == p2p::sha256("c", 1));
}

TEST_CASE("a file catalog picks every entry over many draws, and only its entries") {
  FileCatalog catalog;
  for (int i = 0; i < 5; ++i) catalog.add(entry(p2p::test::numbered("f", i), i));
  std::mt19937_64 rng(3);
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    auto e = catalog.pick(rng);
    REQUIRE(e.has_value());
    seen.insert(e->name);
  }
  CHECK(seen == std::set<std::string>{"f0", "f1", "f2", "f3", "f4"});
}

TEST_CASE("a file catalog takes adds and picks from several threads at once") {
  FileCatalog catalog;
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < kEach; ++i) {
        catalog.add(entry(std::to_string(t) + "-" + std::to_string(i), 1));
        (void)catalog.pick(rng);
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(catalog.size() == kThreads * kEach);
  std::set<std::string> names;
  for (std::size_t i = 0; i < catalog.size(); ++i) names.insert(catalog.at(i).name);
  CHECK(names.size() == kThreads * kEach);
}
