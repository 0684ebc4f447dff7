#include "tests/support/random_file.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/sha256.h"

namespace p2p::test {

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;  // write and hash in 1 MiB steps

void fill(std::mt19937_64& rng, std::vector<char>& buf, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::size_t take = std::min<std::size_t>(8, n - i);
    __builtin_memcpy(buf.data() + i, &v, take);
  }
}

void write_random(std::ostream& out, std::uint64_t size, std::uint64_t seed, const std::filesystem::path& path) {
  std::mt19937_64 rng(seed);
  std::vector<char> buf(kBufferBytes);
  for (std::uint64_t done = 0; done < size;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBufferBytes, size - done));
    fill(rng, buf, n);
    out.write(buf.data(), static_cast<std::streamsize>(n));
    if (!out) throw std::runtime_error("write failed: " + path.string());
    done += n;
  }
}

}  // namespace

void write_random_file(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + path.string());
  write_random(out, size, seed, path);
  out.close();
  if (!out) throw std::runtime_error("close failed: " + path.string());
}

void overwrite_random(const std::filesystem::path& path, std::uint64_t offset, std::uint64_t size,
                      std::uint64_t seed) {
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  if (!out) throw std::runtime_error("cannot open " + path.string());
  out.seekp(static_cast<std::streamoff>(offset));
  write_random(out, size, seed, path);
  out.close();
  if (!out) throw std::runtime_error("close failed: " + path.string());
}

Hash sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  Sha256 digest;
  std::vector<char> buf(kBufferBytes);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) digest.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error("read failed: " + path.string());
  return digest.finish();
}

bool same_content(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ea, eb;
  if (!std::filesystem::is_regular_file(a, ea) || !std::filesystem::is_regular_file(b, eb)) return false;
  if (std::filesystem::file_size(a) != std::filesystem::file_size(b)) return false;
  return sha256_file(a) == sha256_file(b);
}

}  // namespace p2p::test
