// HolderSet: the peers holding one file, as a small sorted array of pointers
// to peer ids interned by the index (FileIndex::intern).
//
// Why not std::set<std::string>: a file has k (3) holders and the index has
// millions of files. A set node per holder plus its id on the heap (a peer id
// is 16 hex digits, one more than the string's inline buffer) cost ~380 bytes
// a file, and removing a peer from a million files freed two million blocks.
// Here a file's holders cost one small array (8 bytes a holder).
//
// Iterates as `const std::string&` in id order, like the set did. The ids
// pointed to must outlive the set: the index interns every peer id for its
// own lifetime. Not thread-safe (the broker thread owns the index).
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::tracker {

class HolderSet {
 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string*;
    using reference = const std::string&;

    const_iterator() = default;
    explicit const_iterator(std::vector<const std::string*>::const_iterator at) : at_(at) {}
    reference operator*() const { return **at_; }
    pointer operator->() const { return *at_; }
    const_iterator& operator++() {
      ++at_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++at_;
      return before;
    }
    bool operator==(const const_iterator& other) const = default;

   private:
    std::vector<const std::string*>::const_iterator at_;
  };

  const_iterator begin() const { return const_iterator(ids_.begin()); }
  const_iterator end() const { return const_iterator(ids_.end()); }
  std::size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }

  bool contains(std::string_view id) const {
    auto at = lower_bound(id);
    return at != ids_.end() && **at == id;
  }
  // REQUIRES: `id` stays valid as long as it is in the set (interned).
  // False when a holder with that id is already in.
  bool insert(const std::string* id) {
    auto at = lower_bound(*id);
    if (at != ids_.end() && **at == *id) return false;
    if (ids_.capacity() == 0) {
      ids_.reserve(3);  // the usual k: one allocation, not three
      at = ids_.begin();
    }
    ids_.insert(at, id);
    return true;
  }
  bool erase(std::string_view id) {
    auto at = lower_bound(id);
    if (at == ids_.end() || **at != id) return false;
    ids_.erase(at);
    if (ids_.empty()) ids_.shrink_to_fit();  // an unavailable file keeps no array
    return true;
  }

 private:
  std::vector<const std::string*>::const_iterator lower_bound(std::string_view id) const {
    return std::lower_bound(ids_.begin(), ids_.end(), id,
                            [](const std::string* held, std::string_view wanted) { return *held < wanted; });
  }

  std::vector<const std::string*> ids_;  // sorted by id
};

}  // namespace p2p::tracker
