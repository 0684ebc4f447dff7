#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <vector>

#include "common/limits.h"
#include "services/tracker/name_pattern.h"

using p2p::tracker::NamePattern;

TEST_CASE("search pattern without wildcards matches a case-insensitive substring") {
  NamePattern p("Report");
  CHECK_FALSE(p.is_glob());
  CHECK(p.matches("annual-report.pdf"));
  CHECK(p.matches("REPORT"));
  CHECK(p.matches("my Report 2"));
  CHECK_FALSE(p.matches("repor"));
  CHECK_FALSE(p.matches("notes.txt"));
}

TEST_CASE("empty search pattern matches every name") {
  NamePattern p("");
  CHECK(p.matches("a"));
  CHECK(p.matches("anything at all"));
}

TEST_CASE("star glob must match the whole name") {
  NamePattern p("*.TXT");
  CHECK(p.is_glob());
  CHECK(p.matches("notes.txt"));
  CHECK(p.matches(".txt"));
  CHECK_FALSE(p.matches("notes.txt.bak"));
  CHECK_FALSE(p.matches("notes.tx"));
}

TEST_CASE("question mark glob matches exactly one byte") {
  NamePattern p("file?.bin");
  CHECK(p.matches("file1.bin"));
  CHECK(p.matches("FILEx.BIN"));
  CHECK_FALSE(p.matches("file.bin"));
  CHECK_FALSE(p.matches("file12.bin"));
}

TEST_CASE("glob with several stars backtracks correctly") {
  NamePattern p("a*b*c");
  CHECK(p.matches("abc"));
  CHECK(p.matches("aXXbYYbZZc"));
  CHECK(p.matches("abcbc"));
  CHECK_FALSE(p.matches("abcx"));
  CHECK_FALSE(p.matches("xabc"));
  CHECK(NamePattern("*").matches("anything"));
  CHECK(NamePattern("**").matches(""));
}

TEST_CASE("hostile glob stays fast on a long name") {
  // An exponential matcher would take ages here; the greedy one is quadratic.
  NamePattern p("*a*a*a*a*a*a*a*a*a*b");
  CHECK_FALSE(p.matches(std::string(255, 'a')));
}

TEST_CASE("pattern literal is what every matching name must contain") {
  CHECK(NamePattern("Report").literal() == "report");
  CHECK(NamePattern("*.TXT").literal() == ".txt");
  CHECK(NamePattern("ab*cdef?g").literal() == "cdef");
  CHECK(NamePattern("*").literal().empty());
  CHECK(NamePattern("").literal().empty());
  using Runs = std::vector<std::string>;
  CHECK(NamePattern("ab*cdef?g").literals() == Runs{"ab", "cdef", "g"});
  CHECK(NamePattern("*-99*.BIN").literals() == Runs{"-99", ".bin"});
  CHECK(NamePattern("Report").literals() == Runs{"report"});
  CHECK(NamePattern("**?*").literals().empty());
}

TEST_CASE("a lowercased name matches as the original does") {
  for (const char* pattern : {"Report", "*.TXT", "a*b*c", "file?.bin", ""}) {
    NamePattern p(pattern);
    for (const char* name : {"annual-report.pdf", "notes.txt", "axxbyyc", "file1.bin", "other"}) {
      std::string lowered(name);
      for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      INFO(pattern << " vs " << name);
      CHECK(p.matches_lowered(lowered) == p.matches(name));
    }
  }
}

TEST_CASE("a pattern needing more bytes than a name can hold matches nothing") {
  const std::string longest(p2p::limits::kMaxNameBytes, 'a');
  CHECK(NamePattern(longest).can_match());
  CHECK(NamePattern(longest).matches(longest));
  CHECK(NamePattern("*" + longest + "*").matches(longest));
  CHECK_FALSE(NamePattern(longest + "a").can_match());
  CHECK_FALSE(NamePattern(longest + "a").matches(longest));
  CHECK_FALSE(NamePattern(std::string(p2p::limits::kMaxNameBytes + 1, '?')).can_match());
  CHECK_FALSE(NamePattern("*" + longest + "?").matches(longest + "a"));
  // Stars need no byte: a glob of a million of them around one byte still can.
  const std::string stars(1 << 20, '*');
  NamePattern many(stars + "x" + stars);
  CHECK(many.can_match());
  CHECK(many.matches("abxcd"));
  CHECK_FALSE(many.matches("abcd"));
  CHECK(many.literals() == std::vector<std::string>{"x"});
}

TEST_CASE("a run of stars in a glob matches as one star") {
  for (const char* name : {"ab", "axb", "axxb", "ba", "a", "b"}) {
    INFO(name);
    CHECK(NamePattern("a***b").matches(name) == NamePattern("a*b").matches(name));
    CHECK(NamePattern("**a*?**").matches(name) == NamePattern("*a*?*").matches(name));
  }
}
