#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "services/tracker/name_index.h"

using p2p::Hash;
using p2p::tracker::NameIndex;
using p2p::tracker::NamePattern;

namespace {

Hash id_of(const std::string& s) { return p2p::sha256(s.data(), s.size()); }

// The names whose ids search() returned, in its order (ids are id_of(name)).
std::vector<std::string> found(const NameIndex& index, const std::vector<std::string>& names, const char* pattern,
                               std::size_t limit = 100) {
  std::map<Hash, std::string> name_of;
  for (const std::string& n : names) name_of.emplace(id_of(n), n);
  std::vector<std::string> out;
  for (const Hash& id : index.search(NamePattern(pattern), limit)) out.push_back(name_of.at(id));
  return out;
}

}  // namespace

TEST_CASE("name index binds a free name once and rebinds on request") {
  NameIndex index;
  CHECK(index.bind_if_free("a.txt", id_of("1")));
  CHECK_FALSE(index.bind_if_free("a.txt", id_of("2")));
  REQUIRE(index.find("a.txt") != nullptr);
  CHECK(*index.find("a.txt") == id_of("1"));
  index.bind("a.txt", id_of("2"));
  CHECK(*index.find("a.txt") == id_of("2"));
  CHECK(index.find("b.txt") == nullptr);
  CHECK(index.size() == 1);
}

TEST_CASE("name search finds substrings and globs case-insensitively in name order") {
  const std::vector<std::string> names{"zeta.txt", "Alpha.TXT", "beta.bin", "gamma.txt", "report-eta"};
  NameIndex index;
  for (const auto& n : names) index.bind_if_free(n, id_of(n));
  CHECK(found(index, names, "ETA") == std::vector<std::string>{"beta.bin", "report-eta", "zeta.txt"});
  CHECK(found(index, names, "*.txt") == std::vector<std::string>{"Alpha.TXT", "gamma.txt", "zeta.txt"});
  CHECK(found(index, names, "?eta*") == std::vector<std::string>{"beta.bin", "zeta.txt"});
  CHECK(found(index, names, "").size() == 5);
  CHECK(found(index, names, "*").size() == 5);
  CHECK(found(index, names, "", 2) == std::vector<std::string>{"Alpha.TXT", "beta.bin"});
  CHECK(found(index, names, "eta", 1) == std::vector<std::string>{"beta.bin"});
  CHECK(found(index, names, "nothing").empty());
}

TEST_CASE("name search never matches across two names") {
  NameIndex index;
  index.bind_if_free("abc", id_of("abc"));
  index.bind_if_free("def", id_of("def"));
  CHECK(index.search(NamePattern("cd"), 10).empty());
  CHECK(index.search(NamePattern("c*d"), 10).empty());
  CHECK(index.search(NamePattern(std::string("c\0d", 3)), 10).empty());
  CHECK(index.search(NamePattern(std::string("\0", 1)), 10).empty());
}

TEST_CASE("a name bound after a search is found by the next one") {
  const std::vector<std::string> names{"m.txt", "a.txt", "z.txt"};
  NameIndex index;
  index.bind_if_free("m.txt", id_of("m.txt"));
  CHECK(found(index, names, ".txt") == std::vector<std::string>{"m.txt"});
  index.bind_if_free("z.txt", id_of("z.txt"));
  index.bind("a.txt", id_of("a.txt"));
  CHECK(found(index, names, ".txt") == std::vector<std::string>{"a.txt", "m.txt", "z.txt"});
}

TEST_CASE("a name rebound to another file is searched with its new id") {
  NameIndex index;
  index.bind_if_free("f", id_of("old"));
  REQUIRE(index.search(NamePattern("f"), 10) == std::vector<Hash>{id_of("old")});
  index.bind("f", id_of("new"));
  CHECK(index.search(NamePattern("f"), 10) == std::vector<Hash>{id_of("new")});
}

TEST_CASE("name search gives the same answer through the trigram index as a full scan") {
  // Every name checked against NamePattern::matches: the index may only
  // narrow the candidates, never lose or add one.
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i)
    names.push_back((i % 3 == 0 ? "Report-" : i % 3 == 1 ? "photo_" : "aaa") + std::to_string(i * 7919 % 1000) +
                    (i % 2 ? ".TXT" : ".bin"));
  names.push_back("aaaa");
  names.push_back("xaaay");
  NameIndex index;
  for (const auto& n : names) index.bind_if_free(n, id_of(n));
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (const char* pattern : {"report", "REPORT-1", "9.txt", "aaa", "aaaa", "*.txt", "photo_*9.bin", "*aa?*", "?x*",
                              "77", "t-", "", "*", "zzz", "Report-0123456", "*-1*.txt", "r*9?.bin", "*aaa*9*", "ph*zzz*",
                              "*t-?9*", "a?a?a", "xt", "*xt", "XT*", "n.", "?x", "ay", "y", "*y", "bi", "*bi*"}) {
    std::vector<std::string> want;
    for (const auto& n : sorted)
      if (NamePattern(pattern).matches(n)) want.push_back(n);
    INFO(pattern);
    CHECK(found(index, names, pattern, 10000) == want);
  }
}

TEST_CASE("names bound between searches are found as a full scan would, in name order, across segments") {
  // Searches between binds make many small segments, merged as they grow.
  std::vector<std::string> names;
  NameIndex index;
  std::mt19937 rng(5);
  const char* parts[] = {"Report-", "photo_", "aaa", "x", "Ab"};
  const char* patterns[] = {"report", "1", "9.txt", "aaa", "*.txt", "photo_*9.bin", "*aa?*", "?x*", "77", "", "ab"};
  for (int step = 0; step < 1500; ++step) {
    const std::string n = parts[rng() % 5] + std::to_string(rng() % 2000) + (rng() % 2 ? ".TXT" : ".bin");
    if (index.bind_if_free(n, id_of(n))) names.push_back(n);
    if (step % 7 != 0) continue;
    const char* pattern = patterns[rng() % std::size(patterns)];
    const std::size_t limit = 1 + rng() % 40;
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::string> want;
    for (const auto& s : sorted)
      if (want.size() < limit && NamePattern(pattern).matches(s)) want.push_back(s);
    INFO(pattern << " limit " << limit << " after " << names.size() << " names");
    REQUIRE(found(index, names, pattern, limit) == want);
    // Segment sizes at least halve from one to the next.
    CHECK(index.segments() <= 1 + static_cast<std::size_t>(std::log2(static_cast<double>(names.size()))));
  }
  CHECK(index.segments() > 1);  // the walk did search across segments
}

TEST_CASE("names bound at once come back in byte order however long the prefix they share") {
  // Sorting reads names 8 bytes at a time: names ending at, before and after
  // a multiple of 8, prefixes of each other, and bytes above 0x7f.
  std::vector<std::string> names;
  for (std::size_t n = 1; n <= 40; ++n) names.push_back(std::string(n, 'a'));
  std::mt19937 rng(11);
  const std::string alphabet = "aAb\x7f\xc3\xff.";
  for (int i = 0; i < 3000; ++i) {
    std::string n = std::string("shared-prefix-of-24-byte").substr(0, rng() % 25);
    for (std::size_t len = rng() % 20; len > 0; --len) n += alphabet[rng() % alphabet.size()];
    if (!n.empty()) names.push_back(n);
  }
  NameIndex index;
  std::vector<std::string> want;
  for (const auto& n : names)
    if (index.bind_if_free(n, id_of(n))) want.push_back(n);
  std::sort(want.begin(), want.end());
  CHECK(found(index, names, "", want.size()) == want);
}
