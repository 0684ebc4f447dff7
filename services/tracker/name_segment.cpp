#include "services/tracker/name_segment.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace p2p::tracker {

namespace {

constexpr std::size_t kTrigram = 3;
// A search stops looking up the pattern's trigrams once one is held by this
// few names: checking them costs less than more lookups (a SEARCH of a
// known name over 5 segments took 2.3 us with every trigram looked up).
constexpr std::size_t kFewCandidates = 8;
// At most this many more lists filter the candidates: each costs a lookup
// per candidate left, while a third list rarely removes what two left.
constexpr std::size_t kFilterLists = 2;

std::uint32_t trigram_of(char a, char b, char c) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(a)) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b)) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(c));
}

std::uint32_t trigram_at(std::string_view s, std::size_t i) { return trigram_of(s[i], s[i + 1], s[i + 2]); }

// How many of the ascending `list` are below `value`: galloping (1, 2, 4,
// ... ahead, then a binary search), since the candidates that call it come
// in ascending order and each usually skips only a few.
std::size_t skip_below(std::span<const std::uint32_t> list, std::uint32_t value) {
  std::size_t bound = 1;
  while (bound <= list.size() && list[bound - 1] < value) bound *= 2;
  const std::size_t from = bound / 2, to = std::min(bound, list.size());
  return static_cast<std::size_t>(std::lower_bound(list.begin() + from, list.begin() + to, value) - list.begin());
}

// The distinct trigrams of a lowercased name followed by its NUL, ascending:
// the last one, its last two bytes and the NUL, lets a 2-byte literal be
// found at the end of a name too (search_pair).
void trigrams_of(std::string_view name_and_nul, std::vector<std::uint32_t>* out) {
  out->clear();
  for (std::size_t at = 0; at + kTrigram <= name_and_nul.size(); ++at) out->push_back(trigram_at(name_and_nul, at));
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

// Sorts (trigram << 32 | name) pairs by trigram, keeping the order of equal
// trigrams: three counting passes over the trigram's 24 bits (std::sort of
// the 18,000,000 pairs of 1,000,000 names took 4 s).
void sort_by_trigram(std::vector<std::uint64_t>* pairs) {
  std::vector<std::uint64_t> other(pairs->size());
  for (int shift = 32; shift < 56; shift += 8) {
    std::size_t start[257] = {};
    for (std::uint64_t p : *pairs) ++start[((p >> shift) & 0xff) + 1];
    for (int b = 0; b < 256; ++b) start[b + 1] += start[b];
    for (std::uint64_t p : *pairs) other[start[(p >> shift) & 0xff]++] = p;
    pairs->swap(other);
  }
}

}  // namespace

NameSegment::NameSegment(std::vector<const NameEntry*> sorted) : entries_(std::move(sorted)) {
  starts_.reserve(entries_.size());
  for (const NameEntry* e : entries_) {
    starts_.push_back(text_.size());
    for (char c : e->first) text_.push_back(ascii_lower(c));
    text_.push_back('\0');
  }
  // Every (trigram, name) once, sorted by trigram with a stable radix sort:
  // names are numbered in order, so each trigram's names stay ascending.
  std::vector<std::uint64_t> pairs;
  pairs.reserve(text_.size());
  std::vector<std::uint32_t> mine;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    trigrams_of({text_.data() + starts_[i], lowered(i).size() + 1}, &mine);
    for (std::uint32_t t : mine) pairs.push_back(std::uint64_t{t} << 32 | i);
  }
  sort_by_trigram(&pairs);
  postings_.reserve(pairs.size());
  for (std::uint64_t pair : pairs) {
    const auto t = static_cast<std::uint32_t>(pair >> 32);
    if (directory_.empty() || directory_.back().first != t)
      directory_.emplace_back(t, static_cast<std::uint32_t>(postings_.size()));
    postings_.push_back(static_cast<std::uint32_t>(pair));
  }
}

NameSegment NameSegment::merged(const NameSegment& a, const NameSegment& b) {
  NameSegment m;
  const std::size_t n = a.size() + b.size();
  m.entries_.reserve(n);
  m.starts_.reserve(n);
  m.text_.reserve(a.text_.size() + b.text_.size());
  // Where each source entry lands in the merged order.
  std::vector<std::uint32_t> slot_a(a.size()), slot_b(b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const bool from_a = j == b.size() || (i < a.size() && a.entries_[i]->first < b.entries_[j]->first);
    const NameSegment& src = from_a ? a : b;
    std::size_t& k = from_a ? i : j;
    (from_a ? slot_a : slot_b)[k] = static_cast<std::uint32_t>(m.entries_.size());
    m.entries_.push_back(src.entries_[k]);
    m.starts_.push_back(m.text_.size());
    m.text_.append(src.text_, src.starts_[k], src.lowered(k).size() + 1);
    ++k;
  }
  // Both directories in trigram order; a trigram in both gets its two lists
  // merged, each moved to the merged slots (which keeps each ascending).
  m.directory_.reserve(a.directory_.size() + b.directory_.size());
  m.postings_.reserve(a.postings_.size() + b.postings_.size());
  std::size_t x = 0, y = 0;
  while (x < a.directory_.size() || y < b.directory_.size()) {
    const bool in_a = x < a.directory_.size() && (y == b.directory_.size() || a.directory_[x].first <= b.directory_[y].first);
    const bool in_b = y < b.directory_.size() && (x == a.directory_.size() || b.directory_[y].first <= a.directory_[x].first);
    m.directory_.emplace_back(in_a ? a.directory_[x].first : b.directory_[y].first,
                              static_cast<std::uint32_t>(m.postings_.size()));
    const std::span<const std::uint32_t> la = in_a ? a.postings_of(x++) : std::span<const std::uint32_t>{};
    const std::span<const std::uint32_t> lb = in_b ? b.postings_of(y++) : std::span<const std::uint32_t>{};
    std::size_t p = 0, q = 0;
    while (p < la.size() && q < lb.size())
      m.postings_.push_back(slot_a[la[p]] < slot_b[lb[q]] ? slot_a[la[p++]] : slot_b[lb[q++]]);
    for (; p < la.size(); ++p) m.postings_.push_back(slot_a[la[p]]);
    for (; q < lb.size(); ++q) m.postings_.push_back(slot_b[lb[q]]);
  }
  return m;
}

std::span<const std::uint32_t> NameSegment::postings_of(std::size_t d) const {
  const std::size_t end = d + 1 < directory_.size() ? directory_[d + 1].second : postings_.size();
  return {postings_.data() + directory_[d].second, end - directory_[d].second};
}

std::size_t NameSegment::first_at_or_above(std::uint32_t trigram) const {
  auto it = std::lower_bound(directory_.begin(), directory_.end(), trigram,
                             [](const std::pair<std::uint32_t, std::uint32_t>& e, std::uint32_t t) { return e.first < t; });
  return static_cast<std::size_t>(it - directory_.begin());
}

std::span<const std::uint32_t> NameSegment::holding(std::uint32_t trigram) const {
  const std::size_t d = first_at_or_above(trigram);
  if (d == directory_.size() || directory_[d].first != trigram) return {};
  return postings_of(d);
}

std::string_view NameSegment::lowered(std::size_t i) const {
  const std::size_t end = i + 1 < starts_.size() ? starts_[i + 1] : text_.size();  // past its NUL
  return {text_.data() + starts_[i], end - 1 - starts_[i]};
}

void NameSegment::search(const NamePattern& pattern, std::size_t limit, std::vector<const NameEntry*>* out) const {
  // A NUL can be in no name: such a pattern matches nothing (and must not
  // match across the end of one name into the next).
  for (const std::string& run : pattern.literals())
    if (run.find('\0') != std::string::npos) return;
  // The lists of the runs' trigrams. The rarest gives the candidates: in
  // "*-99*.bin", "-99" is held by a few names where ".bin" is held by all.
  // A handful of candidates are checked at once; more are first looked up
  // in the next rarest lists: in a name like "bench-small-12345.bin" over
  // 100,000 such names each digit trigram is held by ~300 names, and two of
  // them leave one or two.
  std::vector<std::span<const std::uint32_t>> lists;
  for (const std::string& run : pattern.literals()) {
    for (std::size_t at = 0; at + kTrigram <= run.size(); ++at) {
      const std::span<const std::uint32_t> names = holding(trigram_at(run, at));
      if (names.empty()) return;  // no name holds this trigram
      lists.push_back(names);
      if (names.size() <= kFewCandidates) break;
    }
    if (!lists.empty() && lists.back().size() <= kFewCandidates) break;
  }
  if (lists.empty()) {
    if (pattern.literal().size() == 2) return search_pair(pattern, limit, out);
    return scan(pattern, limit, out);
  }
  // Rarest first; a trigram the pattern holds twice is one list (same data).
  std::sort(lists.begin(), lists.end(), [](const auto& a, const auto& b) {
    return a.size() != b.size() ? a.size() < b.size() : a.data() < b.data();
  });
  lists.erase(std::unique(lists.begin(), lists.end(), [](const auto& a, const auto& b) { return a.data() == b.data(); }),
              lists.end());
  const std::span<const std::uint32_t> rarest = lists.front();
  // What is left of each filter list, from the next candidate on.
  std::vector<std::span<const std::uint32_t>> filters;
  if (rarest.size() > kFewCandidates)
    filters.assign(lists.begin() + 1, lists.begin() + std::min(lists.size(), 1 + kFilterLists));
  std::size_t found = 0;
  for (std::uint32_t i : rarest) {
    if (found == limit) break;
    bool in_all = true;
    for (std::span<const std::uint32_t>& f : filters) {
      f = f.subspan(skip_below(f, i));
      if (f.empty() || f.front() != i) {
        in_all = false;
        break;
      }
    }
    // Holding the trigrams is not holding the literal: the full match decides.
    if (in_all && pattern.matches_lowered(lowered(i))) {
      out->push_back(entries_[i]);
      ++found;
    }
  }
}

void NameSegment::search_pair(const NamePattern& pattern, std::size_t limit,
                              std::vector<const NameEntry*>* out) const {
  // The names holding the 2 bytes are those of the trigrams that begin with
  // them (one ends with the NUL when a name ends with them): adjacent in the
  // directory, each list ascending, merged by a heap. A name is in as many of
  // the lists as it has such trigrams; it comes out of the heap once each.
  const std::string_view pair = pattern.literal();
  const std::uint32_t first = trigram_of(pair[0], pair[1], '\0');  // the lowest trigram beginning with them
  using Cursor = std::span<const std::uint32_t>;
  auto later = [](const Cursor& a, const Cursor& b) { return a.front() > b.front(); };
  std::vector<Cursor> heap;
  for (std::size_t d = first_at_or_above(first), end = first_at_or_above(first + 0x100); d < end; ++d)
    heap.push_back(postings_of(d));
  std::make_heap(heap.begin(), heap.end(), later);
  std::size_t found = 0;
  std::optional<std::uint32_t> last;
  while (!heap.empty() && found < limit) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const std::uint32_t i = heap.back().front();
    heap.back() = heap.back().subspan(1);
    if (heap.back().empty())
      heap.pop_back();
    else
      std::push_heap(heap.begin(), heap.end(), later);
    if (last == i) continue;
    last = i;
    // A substring's name holds it; a glob's literal only makes a candidate.
    if (!pattern.is_glob() || pattern.matches_lowered(lowered(i))) {
      out->push_back(entries_[i]);
      ++found;
    }
  }
}

void NameSegment::scan(const NamePattern& pattern, std::size_t limit, std::vector<const NameEntry*>* out) const {
  const std::string_view literal = pattern.literal();
  std::size_t pos = 0, found = 0;
  while (found < limit && pos < text_.size()) {
    std::size_t at = pos;  // where the next name holding the literal holds it
    if (!literal.empty()) {
      const void* hit = memmem(text_.data() + pos, text_.size() - pos, literal.data(), literal.size());
      if (hit == nullptr) break;
      at = static_cast<std::size_t>(static_cast<const char*>(hit) - text_.data());
    }
    const auto i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), at) - starts_.begin()) - 1;
    // A substring's hit is its match; a glob's literal only makes a candidate.
    if (!pattern.is_glob() || pattern.matches_lowered(lowered(i))) {
      out->push_back(entries_[i]);
      ++found;
    }
    pos = starts_[i] + lowered(i).size() + 1;
  }
}

}  // namespace p2p::tracker
