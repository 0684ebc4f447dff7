// NamePattern: the matcher behind SEARCH (docs/protocol.md 5.2).
//
// A pattern containing '*' or '?' is a glob over the whole name: '*' matches
// any run of bytes (also none), '?' exactly one byte. Any other pattern is a
// substring to find anywhere in the name; the empty pattern matches every
// name. Matching is case-insensitive for ASCII letters only (names are bytes,
// not necessarily UTF-8, so no locale is involved).
//
// Cost: O(|pattern| x |name|) at worst, no recursion, so a hostile pattern
// like "*a*a*a*a*b" cannot blow up. A pattern comes from the network (a str,
// up to limits::kMaxStringBytes), so runs of '*' are kept as one, and a
// pattern needing more bytes than a name can have (limits::kMaxNameBytes)
// matches nothing without looking at a name (can_match()).
// Immutable after construction; safe to share between threads.
//
// literals() is what an index can look for first: every matching name
// contains each of them (lowercased). NameSegment narrows to the names
// holding the rarest trigram of any of them (or memmem of the longest when
// none has 3 bytes) and runs the full match on those.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace p2p::tracker {

// ASCII-only lowercase: names are bytes, not necessarily UTF-8 (see above).
inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

class NamePattern {
 public:
  explicit NamePattern(std::string_view pattern);

  bool is_glob() const { return glob_; }
  // False when no valid name can match: a substring longer than a name, or a
  // glob with more bytes besides its '*'s. Then matches() is always false.
  bool can_match() const { return can_match_; }
  bool matches(std::string_view name) const;
  // The same, for a name already lowercased (ASCII) by the caller.
  bool matches_lowered(std::string_view lowered_name) const;

  // Lowercased runs every matching name contains: the whole pattern when it
  // is a substring, each non-empty run between wildcards of a glob (none for
  // "*"; for "", one empty run).
  const std::vector<std::string>& literals() const { return literals_; }
  // The longest of literals() ("" when there is none).
  std::string_view literal() const;

 private:
  template <bool kLowered>
  bool glob_matches(std::string_view name) const;

  std::string pattern_;  // lowercased
  std::vector<std::string> literals_;
  bool glob_ = false;
  bool can_match_ = true;
};

}  // namespace p2p::tracker
