// Test files: random content of a given size, and file digests for
// byte-identity checks (equal SHA-256 and equal size).
#pragma once

#include <cstdint>
#include <filesystem>

#include "common/hash.h"

namespace p2p::test {

// Writes `size` pseudo-random bytes to `path` (truncating). The same seed
// gives the same bytes, so a failure can be reproduced. Throws on I/O error.
void write_random_file(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed);

// Overwrites `size` bytes at `offset` of an existing file with random bytes.
void overwrite_random(const std::filesystem::path& path, std::uint64_t offset, std::uint64_t size, std::uint64_t seed);

// SHA-256 of a whole file, through common/sha256.h. Throws if unreadable.
Hash sha256_file(const std::filesystem::path& path);

// True if both files exist, have the same size and the same SHA-256.
bool same_content(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace p2p::test
