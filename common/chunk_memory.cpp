#include "common/chunk_memory.h"

#include <malloc.h>

namespace p2p {

bool keep_chunk_memory() {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapBlockMax)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(kKeptFreeBytes)) == 1;
#else
  return false;
#endif
}

}  // namespace p2p
