// NameIndex: file name -> file id, in name order, and the scan behind SEARCH.
//
// SEARCH runs on every client's request and the names change only when a
// new name is bound, so the scan works on a flat copy built once per change:
// every name lowercased, each ended by a NUL (which no valid name holds, see
// validate_name), in name order. A search is memmem() over that text for the
// pattern's literal, then the full match on each name that holds it, so its
// cost is one pass over contiguous bytes instead of a tree walk that
// lowercases every byte (that walk was a third of the tracker's CPU under
// the 64-client load of docs/performance.md).
//
// Names are never unbound: the index keeps a file while a name points at it
// (file_index.h), and a name only ever moves to another file id.
// Thread affinity: none of its own; search() rebuilds its cache, so callers
// must not share an instance between threads (the broker thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
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
  using Entry = std::map<std::string, Hash, std::less<>>::value_type;
  void rebuild() const;

  std::map<std::string, Hash, std::less<>> names_;
  // The search cache (see above), rebuilt by search() when stale_.
  mutable bool stale_ = false;
  mutable std::string text_;                 // lowercased names, each + '\0'
  mutable std::vector<std::size_t> starts_;  // where each name begins in text_
  mutable std::vector<const Entry*> entries_;  // map nodes, same order (stable)
};

}  // namespace p2p::tracker
