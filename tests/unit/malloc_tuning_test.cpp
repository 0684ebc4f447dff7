// Malloc tuning, measured by p2p_malloc_probe (tests/tools/), in a process of
// its own each time:
// - keep_chunk_memory_mapped: chunk-sized blocks freed in a burst are taken
//   again by the next burst without faulting in fresh pages;
// - HugePageHeap: an index grown on one thread lands in huge pages.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct ProbeResult {
  bool ran = false;
  int applied = 0;
  double faults = -1;      // per block (kept|default) or per MiB of index (huge|plain)
  long marked_mib = -1;    // huge|plain: MiB of the heap marked for huge pages
};

ProbeResult run_probe(const std::string& mode) {
  ProbeResult r;
  FILE* out = ::popen((std::string(P2P_MALLOC_PROBE) + " " + mode).c_str(), "r");
  if (out == nullptr) return r;
  const bool index = mode == "huge" || mode == "plain";
  const int got = index ? std::fscanf(out, "%d %lf %ld", &r.applied, &r.faults, &r.marked_mib)
                        : std::fscanf(out, "%d %lf", &r.applied, &r.faults);
  r.ran = ::pclose(out) == 0 && got == (index ? 3 : 2);
  return r;
}

// Whether this kernel gives huge pages to memory marked MADV_HUGEPAGE.
bool thp_for_marked_memory() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(f, modes);
  return modes.find("[always]") != std::string::npos || modes.find("[madvise]") != std::string::npos;
}

}  // namespace

TEST_CASE("chunk buffers freed in a burst are taken again without faulting in new pages when chunk memory is kept") {
  // A block is 257 pages.
  const ProbeResult kept = run_probe("kept");
  REQUIRE(kept.ran);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator is not glibc's: the thresholds mean nothing
  // there, and its faults are its own.
  WARN("sanitizer build: page faults not measured (" << kept.faults << " a block)");
#else
  CHECK(kept.applied == 1);
  CHECK(kept.faults < 257 / 16.0);
  // The control: with glibc's defaults the same bursts fault in most pages
  // again, so the measurement above can tell the two apart.
  const ProbeResult defaults = run_probe("default");
  REQUIRE(defaults.ran);
  CHECK(defaults.applied == 0);
  CHECK(defaults.faults > 257 / 4.0);
#endif
}

TEST_CASE("an index grown on one thread is marked for huge pages and faults far less when the heap is prepared") {
  // 256 MiB of 120-byte blocks, kept: ~300 page faults a MiB in 4 KiB pages.
  const ProbeResult huge = run_probe("huge");
  REQUIRE(huge.ran);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  WARN("sanitizer build: its allocator has no brk heap to mark (" << huge.marked_mib << " MiB marked)");
#else
  CHECK(huge.applied == 1);
  CHECK(huge.marked_mib >= 128);  // most of the index
  const ProbeResult plain = run_probe("plain");
  REQUIRE(plain.ran);
  CHECK(plain.applied == 0);
  CHECK(plain.marked_mib == 0);
  if (thp_for_marked_memory()) {
    CHECK(huge.faults < plain.faults / 4);
  } else {
    WARN("no transparent huge pages here: faults not compared (" << huge.faults << " / " << plain.faults << " a MiB)");
  }
#endif
}
