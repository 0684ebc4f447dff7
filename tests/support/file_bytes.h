// Small test files as strings: the whole of a file's bytes, read or written
// at once. For files of a few MiB at most (they live in memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace p2p::test {

// Every byte of `path`; "" when it cannot be opened.
std::string read_bytes(const std::filesystem::path& path);

// `size` deterministic bytes that change from one position to the next and
// never repeat in a short period, so a chunk read from or written to the wrong
// offset has other bytes (and another hash). `seed` shifts the pattern.
std::string patterned_bytes(std::size_t size, int seed = 0);

// XORs the byte at `offset` of `path` with `mask`, in place: the file keeps
// its inode and size, as bytes rotting on a disk do. False when the file is
// shorter or cannot be read and written.
bool flip_bits(const std::filesystem::path& path, std::uint64_t offset, unsigned char mask = 0x01);

// Replaces `path` with exactly `bytes`. Throws std::runtime_error on failure.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

}  // namespace p2p::test
