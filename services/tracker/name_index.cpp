#include "services/tracker/name_index.h"

#include <algorithm>
#include <cstring>

namespace p2p::tracker {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool NameIndex::bind_if_free(std::string_view name, const Hash& id) {
  auto [it, inserted] = names_.try_emplace(std::string(name), id);
  stale_ = stale_ || inserted;
  return inserted;
}

void NameIndex::bind(std::string_view name, const Hash& id) {
  auto it = names_.find(name);
  if (it != names_.end()) {
    it->second = id;  // the same name: the search text does not change
    return;
  }
  names_.emplace(std::string(name), id);
  stale_ = true;
}

const Hash* NameIndex::find(std::string_view name) const {
  auto it = names_.find(name);
  return it == names_.end() ? nullptr : &it->second;
}

void NameIndex::rebuild() const {
  text_.clear();
  starts_.clear();
  entries_.clear();
  starts_.reserve(names_.size());
  entries_.reserve(names_.size());
  for (const Entry& e : names_) {
    starts_.push_back(text_.size());
    entries_.push_back(&e);
    for (char c : e.first) text_.push_back(lower(c));
    text_.push_back('\0');
  }
  stale_ = false;
}

std::vector<Hash> NameIndex::search(const NamePattern& pattern, std::size_t limit) const {
  if (stale_) rebuild();
  std::vector<Hash> out;
  const std::string_view literal = pattern.literal();
  // A NUL can be in no name: such a pattern matches nothing (and must not
  // match across the end of one name into the next).
  if (literal.find('\0') != std::string_view::npos) return out;
  std::size_t pos = 0;
  while (out.size() < limit && pos < text_.size()) {
    std::size_t i;  // the name to try: the next one holding the literal
    if (literal.empty()) {
      i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin()) - 1;
    } else {
      const void* hit = memmem(text_.data() + pos, text_.size() - pos, literal.data(), literal.size());
      if (hit == nullptr) break;
      const auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - text_.data());
      i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), at) - starts_.begin()) - 1;
    }
    const std::size_t end = i + 1 < starts_.size() ? starts_[i + 1] : text_.size();  // past its NUL
    const std::string_view name(text_.data() + starts_[i], end - 1 - starts_[i]);
    // A substring's hit is its match; a glob's literal only makes a candidate.
    if (!pattern.is_glob() || pattern.matches_lowered(name)) out.push_back(entries_[i]->second);
    pos = end;
  }
  return out;
}

}  // namespace p2p::tracker
