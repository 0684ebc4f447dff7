#include "client/load/generated_file.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/chunk_buffer_pool.h"
#include "common/manifest.h"
#include "common/sha256.h"
#include "common/splitmix64.h"

namespace p2p::client::load {

void GeneratedFile::fill(std::uint64_t index, char* out, std::size_t length) const {
  std::uint64_t state = seed_ * 0x100000001b3ULL ^ (index + 1) * 0xd6e8feb86659fd93ULL;
  std::size_t done = 0;
  while (done < length) {
    const std::uint64_t word = splitmix64(state);
    const std::size_t n = std::min(sizeof word, length - done);
    std::memcpy(out + done, &word, n);
    done += n;
  }
}

Result<std::optional<Chunk>> GeneratedFile::next() {
  if (next_index_ >= chunk_count_for(size_, chunk_size_)) return std::optional<Chunk>();
  Chunk chunk;
  chunk.index = next_index_++;
  chunk.offset = chunk.index * chunk_size_;
  const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size_ - chunk.offset));
  Result<zmq::message_t> buffer = chunk_message(length);  // as ChunkReader: no fresh pages a chunk
  if (!buffer.ok()) return buffer.status();
  chunk.data = std::move(buffer.value());
  fill(chunk.index, static_cast<char*>(chunk.data.data()), length);
  chunk.hash = p2p::sha256(chunk.data.data(), length);
  return std::optional<Chunk>(std::move(chunk));
}

Hash GeneratedFile::sha256() const {
  Sha256 digest;
  std::vector<char> buf;
  for (std::uint64_t i = 0; i < chunk_count_for(size_, chunk_size_); ++i) {
    const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size_ - i * chunk_size_));
    buf.resize(length);
    fill(i, buf.data(), length);
    digest.update(buf.data(), length);
  }
  return digest.finish();
}

}  // namespace p2p::client::load
