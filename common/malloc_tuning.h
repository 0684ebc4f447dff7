// Malloc tuning (glibc's mallopt), per kind of process:
// - keep_chunk_memory_mapped(), for the processes that move chunks (peer,
//   client, load generator): freed chunk-sized blocks stay mapped for the
//   next chunk instead of going back to the kernel and being faulted in again;
// - merge_small_frees_at_once(), for the tracker: no burst of deferred work
//   after it frees many small blocks.
//
// Why: ZeroMQ's I/O thread receives every chunk into a malloc of its size
// (~1 MiB, which no pool of ours can reach) and frees it once the chunk is
// stored or forwarded. With glibc's defaults such a block comes from the
// heap once the first one has been freed, but the heap's free top goes back
// to the kernel as soon as it exceeds twice the largest block freed
// (M_TRIM_THRESHOLD, adjusted dynamically): a burst of chunks in flight
// grows the heap past that, the burst's frees trim it, and the next burst
// faults in and zeroes every page again. A 1 GiB put at k=3 took up to 110k
// page faults in a peer (27k-193k in the three), ~10 us each on the bench
// VM (PVM), and 4.0-8.2 CPU-s in the peers from run to run; with the
// thresholds below, at most 4k a peer and 3.6-4.9 CPU-s (docs/performance.md,
// "Where the time goes").
//
// Thread affinity: call once at the start of main, before any thread starts
// (mallopt is process-wide).
#pragma once

#include <cstddef>

#include "common/limits.h"

namespace p2p {

// Blocks of this size or more get their own mmap (and munmap on free).
// Above the largest message a chunk travels in (kMaxDataMessage), so every
// chunk buffer comes from the heap; fixing it also turns off glibc's dynamic
// threshold, which would otherwise move it.
inline constexpr std::size_t kMmapThresholdBytes = 2 * limits::kMaxChunkSize;
static_assert(kMmapThresholdBytes > limits::kMaxDataMessage);

// Free memory at the top of a heap beyond this goes back to the kernel. A
// put's window (8 chunks of 1 MiB, client/put_pipeline.h) fits below it with
// room for the chunks queued behind it; a get asks 4 a holder. An idle
// process keeps at most this much per malloc arena (measured: peers' peak
// RSS 16-22 -> 19-26 MiB over puts and gets).
inline constexpr std::size_t kTrimThresholdBytes = 16u << 20;

// Applies both thresholds. False when the allocator refused them (another
// malloc, e.g. a sanitizer's, ignores mallopt): nothing else changes then.
bool keep_chunk_memory_mapped();

// Turns off glibc's fastbins (M_MXFAST 0), so that each freed small block is
// merged with its free neighbours when it is freed. A fastbin keeps freed
// blocks of up to 128 bytes unmerged, and the next large malloc or free
// merges every one of them at once (malloc_consolidate). The tracker frees a
// departed peer's file ids, a million 64-byte nodes at 1,000,000 files, and
// that merge took 100-500 ms of single steps that are otherwise 5-30 ms
// (docs/performance.md, "Departures in steps"); with it off, no step took 40.
// The tracker's request rate did not move (64 clients, 2 runs each: 49-62k
// against 60k req/s). Small blocks still go through glibc's per-thread cache
// first. False when the allocator refused it (a sanitizer's).
bool merge_small_frees_at_once();

}  // namespace p2p
