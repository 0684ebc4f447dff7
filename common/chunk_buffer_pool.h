// ChunkBufferPool: the aligned buffers chunks are read into (a peer's chunk
// files, the client's input), given back when ZeroMQ has sent the message
// that owns one, and taken again by the next read instead of fresh memory.
//
// Why: a peer reads every chunk it serves into a 1 MiB buffer that ZeroMQ's
// I/O thread frees after the send. With glibc's defaults a block freed by
// another thread goes back to the kernel, so the next chunk faulted in and
// zeroed its 256 pages again (258 faults a chunk, measured): ~5% of all CPU
// samples of a get from tmpfs, where the get is CPU-bound. With the pool the
// peers' CPU per 1 GiB get from 3 holders fell from 1.30-1.46 to 0.65-0.79 s
// (docs/performance.md "Where the time goes"). The pool bounds what it keeps
// (kKeptBuffers) whatever the allocator; malloc_tuning.h keeps the buffers
// ZeroMQ itself allocates for received chunks, which no pool of ours reaches.
//
// The client's put reads the chunks of its input into the same pool
// (chunk_message): it sent each from a fresh 1 MiB malloc that ZeroMQ's I/O
// thread freed, and faulted in 29k-65k pages a 1 GiB put (~10 us a fault on
// the bench VM; docs/performance.md).
//
// Buffers of up to kPooledBytes (the default chunk size) are pooled, all of
// that size; larger ones (a --chunk-size above 1 MiB) come from and go back
// to the allocator. At most kKeptBuffers are kept: more given back at once
// are freed.
//
// Ownership: take() hands the buffer to the caller, give() takes it back.
// Thread affinity: any thread (one mutex); instance() lives until exit.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include <zmq.hpp>

#include "common/limits.h"
#include "common/status.h"

namespace p2p {

// The size of every pooled buffer: chunks of the default size fill it.
inline constexpr std::size_t kPooledBytes = limits::kDefaultChunkSize;
// Buffers kept for reuse: a peer's 4 workers reading, plus the chunks queued
// for sending to a few clients with 4 in flight each. Bounds the pool at
// 16 MiB; a busier peer allocates the rest as before.
inline constexpr std::size_t kKeptBuffers = 16;

class ChunkBufferPool {
 public:
  // The process's pool, shared by every read_direct. Never destroyed, so a
  // message sent after main returns can still give its buffer back.
  static ChunkBufferPool& instance();

  ChunkBufferPool() = default;
  ~ChunkBufferPool();
  ChunkBufferPool(const ChunkBufferPool&) = delete;
  ChunkBufferPool& operator=(const ChunkBufferPool&) = delete;

  // A buffer of at least `bytes`, aligned to kDirectAlignment; nullptr when
  // out of memory. REQUIRES: bytes is a multiple of kDirectAlignment.
  char* take(std::size_t bytes);
  // Gives back a buffer that take(bytes) returned, with the same `bytes`.
  void give(char* buffer, std::size_t bytes);

  // Buffers kept now, for tests.
  std::size_t kept() const;

 private:
  mutable std::mutex mu_;
  std::vector<char*> free_;  // each kPooledBytes, at most kKeptBuffers
};

// A message for `size` bytes of a chunk, not initialised. From
// kDirectMinBytes up its buffer is taken from the process's pool and given
// back when ZeroMQ has done with the message (after the send, on ZeroMQ's
// I/O thread); it holds direct_padded(size) bytes, kDirectAlignment-aligned,
// so an O_DIRECT read of whole blocks fits. A smaller one is ZeroMQ's own:
// a pooled 1 MiB for a few bytes would be waste, and such a file is never
// read with O_DIRECT. kInternal when out of memory.
Result<zmq::message_t> chunk_message(std::size_t size);

}  // namespace p2p
