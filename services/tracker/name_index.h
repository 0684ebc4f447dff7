// NameIndex: file name -> file id, and the search behind SEARCH (in name order).
//
// Names live in a hash map: LOCATE finds one in O(1), not O(log n) string
// compares of names that share long prefixes (the tree's memcmp was ~10% of
// the broker thread under the 64-client load).
//
// SEARCH works on segments (name_segment.h): sorted, trigram-indexed runs of
// names, made once. Names bound since the last search wait in a list; the
// next search makes them a segment of their own and then merges the newest
// segment into the one before while that one is less than kSegmentRatio
// times its size. So segment sizes at least halve from one to the next (at
// most log2(names) segments, most of them tiny), a name is merged at most
// ~log2(names) times in its life, and a search after one new name costs
// about that name, not the index: 0.1 ms at 1,000,000 names, where one sorted
// copy of every name, remade at the first search after a change, cost 1.24 s
// (docs/performance.md). A search asks every segment for at most `limit`
// matches and merges them in name order.
//
// Names are never unbound: the index keeps a file while a name points at it
// (file_index.h), and a name only ever moves to another file id, which the
// segments see at once (they point at the map's entries).
// Thread affinity: none of its own; search() updates the segments, so
// callers must not share an instance between threads (the broker thread
// owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/hash.h"
#include "services/tracker/name_pattern.h"
#include "services/tracker/name_segment.h"

namespace p2p::tracker {

// A segment is merged into the one before it while that one is less than
// this many times its size: a binary counter of segments. 2 copies names
// less often than 4 (binding 1,000,000 names with a search after every 100
// took 7.8 s with 2, 8.3 s with 4, both measured on an earlier segment
// layout; 4.1 s with 2 on the one here).
inline constexpr std::size_t kSegmentRatio = 2;

class NameIndex {
 public:
  // Binds `name` to `id` when the name is free; false (and no change) when
  // it already points at a file.
  bool bind_if_free(std::string_view name, const Hash& id);
  // Binds `name` to `id`, replacing the file it pointed at.
  void bind(std::string_view name, const Hash& id);

  // The file id `name` points at; nullptr when unbound. Valid until the
  // next bind of that name.
  const Hash* find(std::string_view name) const;

  // Ids of the names that match, in name order, at most `limit`.
  std::vector<Hash> search(const NamePattern& pattern, std::size_t limit) const;

  std::size_t size() const { return names_.size(); }
  // Segments a search looks at now (pending names not counted); for tests.
  std::size_t segments() const { return segments_.size(); }

 private:
  // Finds a std::string key by string_view, without making a string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Names = std::unordered_map<std::string, Hash, NameHash, std::equal_to<>>;
  static_assert(std::is_same_v<Names::value_type, NameEntry>);
  // Makes the pending names a segment and merges segments as above.
  void absorb_pending() const;

  Names names_;  // node-based: an entry keeps its address (the segments point at it)
  mutable std::vector<const NameEntry*> pending_;  // bound since the last search
  mutable std::vector<NameSegment> segments_;       // oldest (largest) first
};

}  // namespace p2p::tracker
