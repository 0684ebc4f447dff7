// Malloc tuning for the processes that move chunks (peer, client, load
// generator): freed chunk-sized blocks stay mapped for the next chunk instead
// of going back to the kernel and being faulted in again.
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

}  // namespace p2p
