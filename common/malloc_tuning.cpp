#include "common/malloc_tuning.h"

#include <malloc.h>

namespace p2p {

bool keep_chunk_memory_mapped() {
  // Both, and the mmap threshold first: setting either one turns off glibc's
  // dynamic adjustment, and a trim threshold alone would leave chunk buffers
  // to mmap (the initial threshold is 128 KiB), faulting in every one.
  const bool mmap_set = ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThresholdBytes)) == 1;
  const bool trim_set = ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThresholdBytes)) == 1;
  return mmap_set && trim_set;
}

bool merge_small_frees_at_once() { return ::mallopt(M_MXFAST, 0) == 1; }

}  // namespace p2p
