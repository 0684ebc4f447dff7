// keep_chunk_memory_mapped: chunk-sized blocks freed in a burst are taken
// again by the next burst without faulting in fresh pages. Measured by
// p2p_malloc_probe (tests/tools/), in a process of its own each time.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

namespace {

struct ProbeResult {
  bool ran = false;
  int applied = 0;
  double faults_per_block = -1;
};

ProbeResult run_probe(const std::string& mode) {
  ProbeResult r;
  FILE* out = ::popen((std::string(P2P_MALLOC_PROBE) + " " + mode).c_str(), "r");
  if (out == nullptr) return r;
  r.ran = std::fscanf(out, "%d %lf", &r.applied, &r.faults_per_block) == 2;
  r.ran = ::pclose(out) == 0 && r.ran;
  return r;
}

}  // namespace

TEST_CASE("chunk buffers freed in a burst are taken again without faulting in new pages when chunk memory is kept") {
  // A block is 257 pages.
  const ProbeResult kept = run_probe("kept");
  REQUIRE(kept.ran);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator is not glibc's: the thresholds mean nothing
  // there, and its faults are its own.
  WARN("sanitizer build: page faults not measured (" << kept.faults_per_block << " a block)");
#else
  CHECK(kept.applied == 1);
  CHECK(kept.faults_per_block < 257 / 16.0);
  // The control: with glibc's defaults the same bursts fault in most pages
  // again, so the measurement above can tell the two apart.
  const ProbeResult defaults = run_probe("default");
  REQUIRE(defaults.ran);
  CHECK(defaults.applied == 0);
  CHECK(defaults.faults_per_block > 257 / 4.0);
#endif
}
