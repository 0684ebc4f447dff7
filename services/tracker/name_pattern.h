// NamePattern: the matcher behind SEARCH (docs/protocol.md 5.2).
//
// A pattern containing '*' or '?' is a glob over the whole name: '*' matches
// any run of bytes (also none), '?' exactly one byte. Any other pattern is a
// substring to find anywhere in the name; the empty pattern matches every
// name. Matching is case-insensitive for ASCII letters only (names are bytes,
// not necessarily UTF-8, so no locale is involved).
//
// Cost: O(|pattern| x |name|) at worst, no recursion, so a hostile pattern
// like "*a*a*a*a*b" cannot blow up. Immutable after construction; safe to
// share between threads.
#pragma once

#include <string>
#include <string_view>

namespace p2p::tracker {

class NamePattern {
 public:
  explicit NamePattern(std::string_view pattern);

  bool is_glob() const { return glob_; }
  bool matches(std::string_view name) const;

 private:
  bool glob_matches(std::string_view name) const;
  bool substring_matches(std::string_view name) const;

  std::string pattern_;  // lowercased
  bool glob_ = false;
};

}  // namespace p2p::tracker
