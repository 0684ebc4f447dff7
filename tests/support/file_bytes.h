// Small test files as strings: the whole of a file's bytes, read or written
// at once. For files of a few MiB at most (they live in memory).
#pragma once

#include <filesystem>
#include <string>

namespace p2p::test {

// Every byte of `path`; "" when it cannot be opened.
std::string read_bytes(const std::filesystem::path& path);

// Replaces `path` with exactly `bytes`. Throws std::runtime_error on failure.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

}  // namespace p2p::test
