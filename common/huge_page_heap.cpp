#include "common/huge_page_heap.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

namespace p2p {

namespace {

constexpr std::uintptr_t kHugePage = 2u << 20;  // x86-64's PMD size, THP's only size here

}  // namespace

bool HugePageHeap::prepare() {
  const bool one_heap = ::mallopt(M_ARENA_MAX, 1) == 1;
  const bool in_steps = ::mallopt(M_TOP_PAD, static_cast<int>(kHeapStep)) == 1;
  return one_heap && in_steps;
}

void HugePageHeap::advise() {
  // sbrk(0) reads glibc's cached break: no system call.
  const auto end = reinterpret_cast<std::uintptr_t>(::sbrk(0));
  if (advised_end_ == 0) {
    // The heap below is small and already touched: nothing to gain there.
    advised_end_ = end;
    return;
  }
  const std::uintptr_t from = (advised_end_ + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t to = end & ~(kHugePage - 1);
  if (to <= from) return;
  // A failure (EINVAL: a kernel without THP) leaves small pages: nothing to do.
  (void)::madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
  advised_end_ = to;
}

}  // namespace p2p
