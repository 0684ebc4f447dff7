#include "tests/support/page_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace p2p::test {

std::optional<std::size_t> cached_pages(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  const bool stated = ::fstat(fd, &st) == 0;
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = stated && size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (!stated) return std::nullopt;
  if (size == 0) return 0;  // nothing to cache (mmap refuses a length of 0)
  if (map == MAP_FAILED) return std::nullopt;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  const bool ok = ::mincore(map, size, in_core.data()) == 0;
  ::munmap(map, size);
  if (!ok) return std::nullopt;
  std::size_t n = 0;
  for (unsigned char c : in_core) n += c & 1;
  return n;
}

bool evict_from_page_cache(const std::filesystem::path& path) {
  // POSIX_FADV_DONTNEED is advice: a page the kernel holds elsewhere at that
  // moment (isolated by DAMON's kdamond or compaction, still under
  // writeback) stays cached, and one unit test failed so. It is asked again
  // until no page is left, for up to kEvictDeadline; where O_DIRECT is not
  // supported (tmpfs) the cache is the file, so once is all.
  constexpr auto kEvictDeadline = std::chrono::seconds(2);
  const auto deadline = std::chrono::steady_clock::now() + kEvictDeadline;
  const bool cache_is_the_file = !direct_io_supported(path.parent_path());
  for (;;) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    ::close(fd);
    if (!ok) return false;
    if (cache_is_the_file || cached_pages(path) == std::size_t{0} || std::chrono::steady_clock::now() >= deadline)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a back-off between tries, not a wait for an event
  }
}

bool direct_io_supported(const std::filesystem::path& dir) {
  const std::filesystem::path probe = dir / ".direct-io-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

}  // namespace p2p::test
