#include "services/tracker/name_index.h"

#include <algorithm>
#include <iterator>

namespace p2p::tracker {

namespace {

struct ByName {
  bool operator()(const NameEntry* a, const NameEntry* b) const { return a->first < b->first; }
};

}  // namespace

bool NameIndex::bind_if_free(std::string_view name, const Hash& id) {
  auto [it, inserted] = names_.try_emplace(std::string(name), id);
  if (inserted) pending_.push_back(&*it);
  return inserted;
}

void NameIndex::bind(std::string_view name, const Hash& id) {
  auto it = names_.find(name);
  if (it != names_.end()) {
    it->second = id;  // the same name: the segments do not change
    return;
  }
  pending_.push_back(&*names_.emplace(std::string(name), id).first);
}

const Hash* NameIndex::find(std::string_view name) const {
  auto it = names_.find(name);
  return it == names_.end() ? nullptr : &it->second;
}

void NameIndex::absorb_pending() const {
  if (pending_.empty()) return;
  std::sort(pending_.begin(), pending_.end(), ByName{});
  segments_.emplace_back(std::move(pending_));
  pending_.clear();
  while (segments_.size() >= 2 && segments_[segments_.size() - 2].size() < kSegmentRatio * segments_.back().size()) {
    NameSegment both = NameSegment::merged(segments_[segments_.size() - 2], segments_.back());
    segments_.pop_back();
    segments_.back() = std::move(both);
  }
}

std::vector<Hash> NameIndex::search(const NamePattern& pattern, std::size_t limit) const {
  absorb_pending();
  // Each segment's first `limit` matches, merged in name order and cut to
  // `limit` after each segment.
  std::vector<const NameEntry*> best, mine, both;
  for (const NameSegment& segment : segments_) {
    mine.clear();
    segment.search(pattern, limit, &mine);
    if (mine.empty()) continue;
    both.clear();
    std::merge(best.begin(), best.end(), mine.begin(), mine.end(), std::back_inserter(both), ByName{});
    if (both.size() > limit) both.resize(limit);
    best.swap(both);
  }
  std::vector<Hash> out;
  out.reserve(best.size());
  for (const NameEntry* e : best) out.push_back(e->second);
  return out;
}

}  // namespace p2p::tracker
