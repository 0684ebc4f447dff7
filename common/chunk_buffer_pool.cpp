#include "common/chunk_buffer_pool.h"

#include <cstdint>
#include <cstdlib>
#include <string>

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

namespace {

// ZeroMQ's free function for a pooled message: `hint` is the size the
// buffer was taken with.
void give_back(void* data, void* hint) {
  ChunkBufferPool::instance().give(static_cast<char*>(data), reinterpret_cast<std::uintptr_t>(hint));
}

}  // namespace

Result<zmq::message_t> chunk_message(std::size_t size) {
  if (size < kDirectMinBytes) {
    try {
      return zmq::message_t(size);
    } catch (const zmq::error_t& e) {
      return Status{ErrorCode::kInternal, std::string("zmq message: ") + e.what()};
    }
  }
  const std::size_t capacity = direct_padded(size);
  char* buffer = ChunkBufferPool::instance().take(capacity);
  if (buffer == nullptr)
    return Status{ErrorCode::kInternal, "out of memory for a " + std::to_string(capacity) + "-byte chunk buffer"};
  try {
    return zmq::message_t(buffer, size, give_back, reinterpret_cast<void*>(static_cast<std::uintptr_t>(capacity)));
  } catch (const zmq::error_t& e) {
    ChunkBufferPool::instance().give(buffer, capacity);  // libzmq failed before it owned the buffer (ENOMEM)
    return Status{ErrorCode::kInternal, std::string("zmq message: ") + e.what()};
  }
}

std::size_t ChunkBufferPool::kept() const {
  std::lock_guard lock(mu_);
  return free_.size();
}

}  // namespace p2p
