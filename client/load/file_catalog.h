// FileCatalog: the files a load run has put (seeded first, then any the run
// puts), each with its size and SHA-256, shared by every client thread so a
// get can pick any of them and check what it got.
// Thread-safe (one mutex; entries are never removed or changed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/hash.h"

namespace p2p::client::load {

struct CatalogEntry {
  std::string name;
  std::uint64_t size = 0;
  Hash sha256;  // of the whole file
};

class FileCatalog {
 public:
  void add(CatalogEntry entry);
  std::size_t size() const;
  // Entry `i`, in the order added. REQUIRES: i < size().
  CatalogEntry at(std::size_t i) const;
  // A uniformly random entry; nullopt while the catalog is empty.
  std::optional<CatalogEntry> pick(std::mt19937_64& rng) const;

 private:
  mutable std::mutex mutex_;
  std::vector<CatalogEntry> entries_;
};

}  // namespace p2p::client::load
