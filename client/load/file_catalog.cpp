#include "client/load/file_catalog.h"

namespace p2p::client::load {

void FileCatalog::add(CatalogEntry entry) {
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
}

std::size_t FileCatalog::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

CatalogEntry FileCatalog::at(std::size_t i) const {
  std::lock_guard lock(mutex_);
  return entries_.at(i);
}

std::optional<CatalogEntry> FileCatalog::pick(std::mt19937_64& rng) const {
  std::lock_guard lock(mutex_);
  if (entries_.empty()) return std::nullopt;
  return entries_[std::uniform_int_distribution<std::size_t>(0, entries_.size() - 1)(rng)];
}

}  // namespace p2p::client::load
