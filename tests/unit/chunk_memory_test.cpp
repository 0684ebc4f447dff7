// keep_chunk_memory: a chunk buffer freed is memory the next chunk reuses,
// not fresh pages faulted in again.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "common/chunk_memory.h"
#include "common/direct_io.h"

using namespace p2p;

namespace {

long thread_minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

// A peer's shape: a worker reads each chunk into an aligned buffer of its
// padded size (read_direct) and hands it on; another thread (ZeroMQ's I/O
// thread, after the send) frees it; `in_flight` chunks at most at once.
// Returns the worker's minor page faults per chunk.
double worker_faults_per_chunk(int chunks, int in_flight) {
  const std::size_t size = direct_padded(limits::kDefaultChunkSize);
  std::mutex mu;
  std::condition_variable cv;
  std::deque<char*> sent;
  int live = 0;
  bool done = false;
  std::thread io([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return !sent.empty() || done; });
      if (sent.empty()) return;
      char* p = sent.front();
      sent.pop_front();
      --live;
      lock.unlock();
      std::free(p);
      cv.notify_all();
      lock.lock();
    }
  });
  long faults = 0;
  std::thread worker([&] {
    const long before = thread_minor_faults();
    for (int i = 0; i < chunks; ++i) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return live < in_flight; });
        ++live;
      }
      char* p = static_cast<char*>(std::aligned_alloc(kDirectAlignment, size));
      if (p != nullptr) std::memset(p, i, size);  // every byte, as a read does
      {
        std::lock_guard lock(mu);
        sent.push_back(p);
      }
      cv.notify_all();
    }
    faults = thread_minor_faults() - before;
  });
  worker.join();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  io.join();
  return static_cast<double>(faults) / chunks;
}

}  // namespace

TEST_CASE("chunk buffers freed by another thread are reused without faulting in new pages") {
  if (!keep_chunk_memory()) {
    WARN("the allocator is not glibc's (a sanitizer build): nothing to check");
    return;
  }
  // A chunk's buffer is 257 pages. glibc's defaults fault in all of them
  // again for every chunk in this shape (258 a chunk, measured); kept
  // memory, a few.
  const double per_chunk = worker_faults_per_chunk(256, 4);
  CHECK(per_chunk < 32);
}
