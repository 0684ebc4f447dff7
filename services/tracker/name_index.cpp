#include "services/tracker/name_index.h"

#include <algorithm>
#include <cstring>

namespace p2p::tracker {

namespace {

constexpr std::size_t kTrigram = 3;

std::uint32_t trigram_at(std::string_view s, std::size_t i) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + 2]));
}

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
  trigrams_.clear();
  starts_.reserve(names_.size());
  entries_.reserve(names_.size());
  for (const Entry& e : names_) entries_.push_back(&e);
  std::sort(entries_.begin(), entries_.end(), [](const Entry* a, const Entry* b) { return a->first < b->first; });
  for (const Entry* e : entries_) {
    starts_.push_back(text_.size());
    for (char c : e->first) text_.push_back(ascii_lower(c));
    text_.push_back('\0');
  }
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const std::string_view name = lowered(i);
    const auto slot = static_cast<std::uint32_t>(i);
    for (std::size_t at = 0; at + kTrigram <= name.size(); ++at) {
      std::vector<std::uint32_t>& names = trigrams_[trigram_at(name, at)];
      if (names.empty() || names.back() != slot) names.push_back(slot);  // a name repeating it counts once
    }
  }
  stale_ = false;
}

std::string_view NameIndex::lowered(std::size_t i) const {
  const std::size_t end = i + 1 < starts_.size() ? starts_[i + 1] : text_.size();  // past its NUL
  return {text_.data() + starts_[i], end - 1 - starts_[i]};
}

std::vector<Hash> NameIndex::search(const NamePattern& pattern, std::size_t limit) const {
  if (stale_) rebuild();
  std::vector<Hash> out;
  const std::string_view literal = pattern.literal();
  // A NUL can be in no name: such a pattern matches nothing (and must not
  // match across the end of one name into the next).
  if (literal.find('\0') != std::string_view::npos) return out;
  if (literal.size() < kTrigram) {
    scan(pattern, limit, &out);
    return out;
  }
  const std::vector<std::uint32_t>* rarest = nullptr;
  for (std::size_t at = 0; at + kTrigram <= literal.size(); ++at) {
    auto it = trigrams_.find(trigram_at(literal, at));
    if (it == trigrams_.end()) return out;  // no name holds this trigram
    if (rarest == nullptr || it->second.size() < rarest->size()) rarest = &it->second;
  }
  out.reserve(std::min(limit, rarest->size()));
  for (std::uint32_t i : *rarest) {
    if (out.size() == limit) break;
    // Holding the trigram is not holding the literal: the full match decides.
    if (pattern.matches_lowered(lowered(i))) out.push_back(entries_[i]->second);
  }
  return out;
}

void NameIndex::scan(const NamePattern& pattern, std::size_t limit, std::vector<Hash>* out) const {
  const std::string_view literal = pattern.literal();
  std::size_t pos = 0;
  while (out->size() < limit && pos < text_.size()) {
    std::size_t at = pos;  // where the next name holding the literal holds it
    if (!literal.empty()) {
      const void* hit = memmem(text_.data() + pos, text_.size() - pos, literal.data(), literal.size());
      if (hit == nullptr) break;
      at = static_cast<std::size_t>(static_cast<const char*>(hit) - text_.data());
    }
    const auto i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), at) - starts_.begin()) - 1;
    // A substring's hit is its match; a glob's literal only makes a candidate.
    if (!pattern.is_glob() || pattern.matches_lowered(lowered(i))) out->push_back(entries_[i]->second);
    pos = starts_[i] + lowered(i).size() + 1;
  }
}

}  // namespace p2p::tracker
