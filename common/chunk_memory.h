// Chunk memory: the heap keeps the buffers of freed chunks for the next ones,
// instead of giving them back to the kernel and faulting them in again.
//
// Why: every chunk a peer serves is read into a buffer of 1-4 MiB that the
// ZeroMQ I/O thread frees once it is sent, and every chunk a client receives
// is a message libzmq allocates as large. glibc's defaults return such memory
// at once: a block over its (adaptive) mmap threshold is unmapped on free,
// and a free top of heap over twice that is trimmed. The next chunk then
// faults in and zeroes 256 fresh pages per MiB. In a get of 1 GiB from 3
// holders on tmpfs (where the get is CPU-bound, not disk-bound) that was
// ~5% of all CPU samples in the peers' page faults alone, and keeping the
// memory cut the peers' CPU per get from 0.85-1.36 s to 0.50-0.70 s
// (docs/performance.md, "Where the time goes").
//
// What it costs: freed memory up to kKeptFreeBytes per heap stays mapped, so
// a process's RSS is its peak of chunks in flight (bounded by the credit
// windows and worker counts) rather than what is in flight now.
//
// Thread affinity: call keep_chunk_memory() once, at the start of main,
// before any thread allocates.
#pragma once

#include <cstddef>

#include "common/limits.h"

namespace p2p {

// Blocks up to this size come from the heap, never from their own mapping:
// twice the largest chunk, so a chunk message and its padding always do.
inline constexpr std::size_t kHeapBlockMax = 2 * static_cast<std::size_t>(limits::kMaxChunkSize);
// Free memory at the top of a heap kept for reuse before it is given back:
// a few windows of chunks (a get keeps 4 chunks in flight per holder).
inline constexpr std::size_t kKeptFreeBytes = 64u << 20;

// Sets glibc's mmap and trim thresholds (which also turns their adaptation
// off). False if the allocator refused (not glibc): nothing changed.
bool keep_chunk_memory();

}  // namespace p2p
