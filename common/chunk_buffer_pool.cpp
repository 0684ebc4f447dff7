#include "common/chunk_buffer_pool.h"

#include <cstdlib>

#include "common/direct_io.h"

namespace p2p {

ChunkBufferPool& ChunkBufferPool::instance() {
  static ChunkBufferPool* pool = new ChunkBufferPool;  // never destroyed: see the header
  return *pool;
}

ChunkBufferPool::~ChunkBufferPool() {
  for (char* p : free_) std::free(p);
}

char* ChunkBufferPool::take(std::size_t bytes) {
  if (bytes > kPooledBytes) return static_cast<char*>(std::aligned_alloc(kDirectAlignment, bytes));
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      char* p = free_.back();
      free_.pop_back();
      return p;
    }
  }
  return static_cast<char*>(std::aligned_alloc(kDirectAlignment, kPooledBytes));
}

void ChunkBufferPool::give(char* buffer, std::size_t bytes) {
  if (buffer == nullptr) return;
  if (bytes <= kPooledBytes) {
    std::lock_guard lock(mu_);
    if (free_.size() < kKeptBuffers) {
      free_.push_back(buffer);
      return;
    }
  }
  std::free(buffer);
}

std::size_t ChunkBufferPool::kept() const {
  std::lock_guard lock(mu_);
  return free_.size();
}

}  // namespace p2p
