#include "services/tracker/name_pattern.h"

#include <algorithm>

namespace p2p::tracker {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

NamePattern::NamePattern(std::string_view pattern) : pattern_(pattern) {
  std::transform(pattern_.begin(), pattern_.end(), pattern_.begin(), lower);
  glob_ = pattern_.find_first_of("*?") != std::string::npos;
}

bool NamePattern::matches(std::string_view name) const {
  return glob_ ? glob_matches(name) : substring_matches(name);
}

bool NamePattern::substring_matches(std::string_view name) const {
  auto equal = [](char n, char p) { return lower(n) == p; };
  return std::search(name.begin(), name.end(), pattern_.begin(), pattern_.end(), equal) != name.end();
}

// The classic greedy matcher: on a mismatch, let the last '*' swallow one
// more byte and retry from there. Earlier stars never need revisiting, which
// is what keeps this quadratic instead of exponential.
bool NamePattern::glob_matches(std::string_view name) const {
  const std::string_view pat = pattern_;
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos;  // position of the last '*' seen
  std::size_t resume = 0;                     // name position that star matched up to
  while (n < name.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == lower(name[n]))) {
      ++p;
      ++n;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

}  // namespace p2p::tracker
