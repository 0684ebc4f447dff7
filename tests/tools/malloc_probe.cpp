// p2p_malloc_probe: allocation shapes of our processes, each in a process of
// its own, for tests/unit/malloc_tuning_test.cpp and huge_page_heap_test.cpp.
// A fresh process because glibc's malloc adjusts its thresholds to what a
// process has freed before, and a test binary has freed all sorts.
//
//   p2p_malloc_probe kept|default
//
// The shape of a peer's ZeroMQ I/O thread. With `kept` it calls
// keep_chunk_memory_mapped() first. On one thread it then takes kBursts
// bursts of kBurst chunk-sized blocks, writes every byte of each (as a
// receive does), and frees the burst. Prints
// "<applied 0|1> <minor page faults per block after the warm-up>".
//
//   p2p_malloc_probe huge|plain
//
// The shape of the tracker's broker thread: an index of kIndexBytes in small
// blocks, kept. With `huge` it calls HugePageHeap::prepare() first and
// advise() before each kMessageBytes of blocks (a message's worth). Prints
// "<applied 0|1> <minor page faults per MiB of index> <MiB of the heap marked
// for huge pages>".
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/huge_page_heap.h"
#include "common/malloc_tuning.h"

namespace {

constexpr std::size_t kBlock = (1u << 20) + 64;  // a 1 MiB chunk as libzmq allocates it: its header and the bytes
constexpr int kBurst = 8;        // chunks one connection has in flight at once
constexpr int kWarmBursts = 2;   // the first bursts fault in the heap once, kept or not
constexpr int kBursts = 32;

constexpr std::size_t kIndexBytes = 256u << 20;  // several growth steps (kHeapStep)
constexpr std::size_t kNodeBytes = 120;           // an index node's size class
constexpr std::size_t kMessageBytes = 64u << 10;  // index grown by one ANNOUNCE, about

long thread_minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

// Bytes of the heap (the brk area) whose mappings are marked MADV_HUGEPAGE
// ("hg" in smaps' VmFlags).
std::size_t heap_bytes_marked_huge() {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  std::size_t marked = 0, size = 0;
  bool heap = false;
  while (std::getline(smaps, line)) {
    unsigned long from = 0, to = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &from, &to) == 2 && line.find(' ') != std::string::npos &&
        line.find(':') > line.find(' ')) {  // a mapping's header, not a field
      heap = line.find("[heap]") != std::string::npos;
      size = to - from;
    } else if (heap && line.rfind("VmFlags:", 0) == 0) {
      std::istringstream flags(line.substr(8));
      for (std::string f; flags >> f;)
        if (f == "hg") marked += size;
    }
  }
  return marked;
}

// The tracker's broker: small blocks kept, advise() between messages.
int index_probe(bool huge) {
  const bool applied = huge && p2p::HugePageHeap::prepare();
  long faults = 0;
  std::size_t marked = 0;
  std::thread broker([&] {
    p2p::HugePageHeap heap;
    std::vector<char*> nodes;
    nodes.reserve(kIndexBytes / kNodeBytes);
    const long before = thread_minor_faults();
    for (std::size_t made = 0; made < kIndexBytes; made += kNodeBytes) {
      if (huge && made % kMessageBytes == 0) heap.advise();
      char* p = static_cast<char*>(std::malloc(kNodeBytes));
      if (p == nullptr) std::abort();
      std::memset(p, 1, kNodeBytes);
      nodes.push_back(p);
    }
    faults = thread_minor_faults() - before;
    marked = heap_bytes_marked_huge();
    for (char* p : nodes) std::free(p);
  });
  broker.join();
  std::printf("%d %.1f %zu\n", applied ? 1 : 0, static_cast<double>(faults) / (kIndexBytes >> 20), marked >> 20);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 2 ? argv[1] : "";
  if (mode == "huge" || mode == "plain") return index_probe(mode == "huge");
  if (mode != "kept" && mode != "default") {
    std::fprintf(stderr, "usage: p2p_malloc_probe kept|default|huge|plain\n");
    return 2;
  }
  const bool applied = mode == "kept" && p2p::keep_chunk_memory_mapped();
  long faults = 0;
  // A thread of its own, as ZeroMQ's I/O thread: its blocks come from a
  // malloc arena of their own too.
  std::thread io([&] {
    std::vector<char*> burst(kBurst);
    long before = 0;
    for (int b = 0; b < kWarmBursts + kBursts; ++b) {
      if (b == kWarmBursts) before = thread_minor_faults();
      for (char*& p : burst) {
        p = static_cast<char*>(std::malloc(kBlock));
        if (p == nullptr) std::abort();
        std::memset(p, b, kBlock);
      }
      for (char* p : burst) std::free(p);
    }
    faults = thread_minor_faults() - before;
  });
  io.join();
  std::printf("%d %.1f\n", applied ? 1 : 0, static_cast<double>(faults) / (kBursts * kBurst));
  return 0;
}
