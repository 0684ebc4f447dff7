// What of a file the kernel's page cache holds: for tests of which files go
// through the cache and which bypass it (common/direct_io.h).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>

namespace p2p::test {

// Pages of `path` in the page cache (mincore(2) over a mapping of it, which
// faults nothing in); nullopt when the file cannot be opened or mapped.
std::optional<std::size_t> cached_pages(const std::filesystem::path& path);

// Writes the file's dirty pages back and asks the kernel to drop its clean
// ones (fsync, then POSIX_FADV_DONTNEED), again until none is cached or 2 s
// have passed (the advice may leave pages behind). False on an error.
bool evict_from_page_cache(const std::filesystem::path& path);

// True when the file system holding `dir` accepts O_DIRECT (tmpfs does not).
bool direct_io_supported(const std::filesystem::path& dir);

}  // namespace p2p::test
