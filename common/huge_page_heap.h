// HugePageHeap: the heap of a process holding a big, long-lived index (the
// tracker) backed by transparent huge pages, so that growing it costs one
// page fault per 2 MiB rather than per 4 KiB.
//
// Why: on the bench VM a page fault costs ~10 us (docs/performance.md, "Where
// the time goes"), and a tracker indexing 3 peers x 300,000 files took ~80k
// of them (0.8 of its 3.6 CPU-s). This host's THP mode is `madvise`: only
// memory marked MADV_HUGEPAGE gets huge pages. glibc can mark its heap itself
// (the glibc.malloc.hugetlb=1 tunable), but reads tunables only from the
// environment at start; this does the same from inside.
//
// How: prepare() makes every thread allocate from the main heap, which grows
// by brk, in steps of kHeapStep (M_ARENA_MAX 1, M_TOP_PAD). advise() marks
// what the heap grew by since its last call MADV_HUGEPAGE. Pages touched
// between a growth and the next advise() stay small, so call it often: the
// tracker calls it before each message it handles.
//
// Best effort: under another malloc (a sanitizer's) prepare() returns false
// and the break does not move, so advise() marks nothing; a kernel without
// THP ignores the mark.
// Thread affinity: prepare() once at the start of main, before any thread
// starts (mallopt is process-wide); advise() from one thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace p2p {

// The heap's growth step: few growths (each one a system call and a stretch
// of small pages until advise()), and no more untouched address space than
// this at the top. Untouched, it costs no memory.
inline constexpr std::size_t kHeapStep = 64u << 20;

class HugePageHeap {
 public:
  // One heap for every thread, grown kHeapStep at a time. False when the
  // allocator refused it.
  static bool prepare();

  // Marks the heap grown since the last call (whole 2 MiB pages) for huge
  // pages. Cheap when it did not grow: no system call.
  void advise();

 private:
  std::uintptr_t advised_end_ = 0;  // 0: the first call only records the break
};

}  // namespace p2p
