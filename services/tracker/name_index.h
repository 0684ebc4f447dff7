// NameIndex: file name -> file id, and the scan behind SEARCH (in name order).
//
// Names live in a hash map: LOCATE finds one in O(1), not O(log n) string
// compares of names that share long prefixes (the tree's memcmp was ~10% of
// the broker thread under the 64-client load). The name order SEARCH answers
// in is made when its copy is rebuilt.
//
// SEARCH runs on every client's request and the names change only when a
// new name is bound, so the search works on a copy built once per change:
// every name lowercased, each ended by a NUL (which no valid name holds, see
// validate_name), in name order, plus a trigram index: for every 3 bytes
// that occur in some name, the names holding them, in name order.
//
// A search looks for the pattern's literal (name_pattern.h). When the
// literal has 3 bytes or more, the candidates are the names of its rarest
// trigram, each checked in full: a handful of names instead of all of them.
// A shorter literal is found with memmem() over the whole text. Either way
// no byte is lowercased per search (the tree walk that did it was a third of
// the tracker's CPU under the 64-client load of docs/performance.md; the
// memmem scan that replaced it, a quarter of the broker thread's).
//
// Cost: the copy is rebuilt, O(total name bytes), at the first search after
// a new name; binding an existing name to another file id keeps it. With
// millions of names and puts between searches that rebuild would dominate:
// then the trigram lists should be kept up to date per name instead.
// Memory: the copy plus about 4 bytes per name byte for the trigram lists.
//
// Names are never unbound: the index keeps a file while a name points at it
// (file_index.h), and a name only ever moves to another file id.
// Thread affinity: none of its own; search() rebuilds its cache, so callers
// must not share an instance between threads (the broker thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/hash.h"
#include "services/tracker/name_pattern.h"

namespace p2p::tracker {

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

 private:
  // Finds a std::string key by string_view, without making a string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Names = std::unordered_map<std::string, Hash, NameHash, std::equal_to<>>;
  using Entry = Names::value_type;
  void rebuild() const;
  // The lowercased name of entry i, without its NUL.
  std::string_view lowered(std::size_t i) const;
  // Searches of literals shorter than a trigram: memmem over text_.
  void scan(const NamePattern& pattern, std::size_t limit, std::vector<Hash>* out) const;

  Names names_;
  // The search cache (see above), rebuilt by search() when stale_.
  mutable bool stale_ = false;
  mutable std::string text_;                 // lowercased names, each + '\0'
  mutable std::vector<std::size_t> starts_;  // where each name begins in text_
  // The map's entries in name order, as in text_ (a rehash moves no entry).
  mutable std::vector<const Entry*> entries_;
  // Trigram (3 lowercased bytes packed in 24 bits) -> indexes into
  // entries_ of the names holding it, ascending, each once.
  mutable std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> trigrams_;
};

}  // namespace p2p::tracker
