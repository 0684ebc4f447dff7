// p2p_malloc_probe: the allocation shape of a peer's ZeroMQ I/O thread, in a
// process of its own, for tests/unit/malloc_tuning_test.cpp. A fresh process
// because glibc's malloc adjusts its thresholds to what a process has freed
// before, and a test binary has freed all sorts.
//
//   p2p_malloc_probe kept|default
//
// With `kept` it calls keep_chunk_memory_mapped() first. On one thread it
// then takes kBursts bursts of kBurst chunk-sized blocks, writes every byte of
// each (as a receive does), and frees the burst. Prints
// "<applied 0|1> <minor page faults per block after the warm-up>".
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/malloc_tuning.h"

namespace {

constexpr std::size_t kBlock = (1u << 20) + 64;  // a 1 MiB chunk as libzmq allocates it: its header and the bytes
constexpr int kBurst = 8;        // chunks one connection has in flight at once
constexpr int kWarmBursts = 2;   // the first bursts fault in the heap once, kept or not
constexpr int kBursts = 32;

long thread_minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 2 ? argv[1] : "";
  if (mode != "kept" && mode != "default") {
    std::fprintf(stderr, "usage: p2p_malloc_probe kept|default\n");
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
