#include "services/tracker/name_pattern.h"

#include <algorithm>

#include "common/limits.h"

namespace p2p::tracker {

namespace {

// The non-empty runs of `glob` holding no wildcard.
std::vector<std::string> runs_of(std::string_view glob) {
  std::vector<std::string> runs;
  std::size_t start = 0;
  while (start <= glob.size()) {
    std::size_t end = glob.find_first_of("*?", start);
    if (end == std::string_view::npos) end = glob.size();
    if (end > start) runs.emplace_back(glob.substr(start, end - start));
    start = end + 1;
  }
  return runs;
}

}  // namespace

NamePattern::NamePattern(std::string_view pattern) {
  // Lowercased, each run of '*' as one: "a**b" is "a*b", and the matcher's
  // cost grows with the pattern's length.
  pattern_.reserve(std::min(pattern.size(), 2 * limits::kMaxNameBytes + 1));
  std::size_t bytes = 0;  // what a matching name must hold at least
  for (char c : pattern) {
    if (c == '*') {
      glob_ = true;
      if (!pattern_.empty() && pattern_.back() == '*') continue;
    } else {
      glob_ = glob_ || c == '?';
      if (++bytes > limits::kMaxNameBytes) {
        can_match_ = false;  // what is kept of the pattern no longer matters
        return;
      }
    }
    pattern_.push_back(ascii_lower(c));
  }
  literals_ = glob_ ? runs_of(pattern_) : std::vector<std::string>{pattern_};
}

std::string_view NamePattern::literal() const {
  std::string_view longest;
  for (const std::string& run : literals_)
    if (run.size() > longest.size()) longest = run;
  return longest;
}

bool NamePattern::matches(std::string_view name) const {
  if (!can_match_) return false;
  if (glob_) return glob_matches<false>(name);
  auto equal = [](char n, char p) { return ascii_lower(n) == p; };
  return std::search(name.begin(), name.end(), pattern_.begin(), pattern_.end(), equal) != name.end();
}

bool NamePattern::matches_lowered(std::string_view name) const {
  if (!can_match_) return false;
  return glob_ ? glob_matches<true>(name) : name.find(pattern_) != std::string_view::npos;
}

// The classic greedy matcher: on a mismatch, let the last '*' swallow one
// more byte and retry from there. Earlier stars never need revisiting, which
// is what keeps this quadratic instead of exponential.
template <bool kLowered>
bool NamePattern::glob_matches(std::string_view name) const {
  const std::string_view pat = pattern_;
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos;  // position of the last '*' seen
  std::size_t resume = 0;                     // name position that star matched up to
  while (n < name.size()) {
    const char c = kLowered ? name[n] : ascii_lower(name[n]);
    if (p < pat.size() && (pat[p] == '?' || pat[p] == c)) {
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
