// NameSegment: a run of names in name order, made once and then searched
// (the pieces NameIndex searches, name_index.h).
//
// A segment holds its names lowercased, each ended by a NUL (which no valid
// name holds, see validate_name), in name order, plus a trigram index: for
// every 3 bytes that occur in some name, the names holding them, in name
// order. A search looks for the pattern's literals (name_pattern.h). When
// one has 3 bytes or more, the candidates are the names of the rarest
// trigram of any of them that also hold the next two rarest, each checked
// in full: a handful of names instead of all of them. When none has but
// one has 2 bytes, the candidates are the names of every trigram beginning
// with those bytes (each name's trigrams include its last two bytes and its
// NUL, so the end of a name counts). A pattern whose runs have a byte at
// most is found with memmem() over the whole text. Either way no byte is
// lowercased per search.
//
// Making a segment from n names costs O(their bytes) (two hash lookups per
// trigram); merging two costs O(their bytes + their trigram entries) with
// no hashing and three allocations, since the sources' lowercased text and
// trigram lists are reused, not read again byte by byte.
// Memory: the lowercased text plus about 4 bytes per name byte for the
// trigram lists (one more list entry per name for its last trigram, the one
// ending in its NUL), kept in one array.
//
// The segment points at its entries, it does not own them: each must outlive
// it and keep its address (NameIndex's map nodes do). An entry's file id may
// change meanwhile (a name moved to another file id): searches see the new one.
// Thread affinity: none; immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "services/tracker/name_pattern.h"

namespace p2p::tracker {

using NameEntry = std::pair<const std::string, Hash>;

class NameSegment {
 public:
  NameSegment() = default;
  // REQUIRES: `sorted` in ascending name order, no name twice.
  explicit NameSegment(std::vector<const NameEntry*> sorted);
  // The names of both, in one segment. REQUIRES: no name in both.
  static NameSegment merged(const NameSegment& a, const NameSegment& b);

  std::size_t size() const { return entries_.size(); }
  // The entries, in name order.
  const std::vector<const NameEntry*>& entries() const { return entries_; }

  // Appends the entries whose names match, in name order, at most `limit`.
  void search(const NamePattern& pattern, std::size_t limit, std::vector<const NameEntry*>* out) const;

 private:
  // The lowercased name of entry i, without its NUL.
  std::string_view lowered(std::size_t i) const;
  // The first d with directory_[d].first >= trigram (size() when none).
  std::size_t first_at_or_above(std::uint32_t trigram) const;
  // Indexes into entries_ of the names holding `trigram`, ascending.
  std::span<const std::uint32_t> holding(std::uint32_t trigram) const;
  // Where directory_[d]'s names begin and end in postings_.
  std::span<const std::uint32_t> postings_of(std::size_t d) const;
  // Searches whose longest literal has 2 bytes: through the trigrams
  // beginning with them.
  void search_pair(const NamePattern& pattern, std::size_t limit, std::vector<const NameEntry*>* out) const;
  // Searches whose longest literal has 0 or 1 byte: memmem over text_.
  void scan(const NamePattern& pattern, std::size_t limit, std::vector<const NameEntry*>* out) const;

  std::string text_;                 // lowercased names, each + '\0'
  std::vector<std::size_t> starts_;  // where each name begins in text_
  std::vector<const NameEntry*> entries_;
  // For every trigram (3 lowercased bytes packed in 24 bits) some name
  // holds, counting its NUL as its last byte, by trigram: where its names
  // begin in postings_ (they end where the next trigram's begin).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> directory_;
  // Indexes into entries_, trigram after trigram, ascending within one; a
  // name repeating a trigram is in its list once.
  std::vector<std::uint32_t> postings_;
};

}  // namespace p2p::tracker
