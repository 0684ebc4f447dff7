// ChunkReader: streams a local file as chunks of `chunk_size` bytes, each
// with its SHA-256. Only one chunk is in memory at a time, whatever the file
// size, and each chunk is read straight into a zmq::message_t so it can be
// sent without another copy. The message's buffer comes from ChunkBufferPool
// and goes back to it when ZeroMQ has sent the chunk.
//
// Ownership: owns the file descriptor (closed on destruction); move-only.
// Thread affinity: one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "common/hash.h"
#include "common/status.h"

namespace p2p {

struct Chunk {
  std::uint64_t index = 0;
  std::uint64_t offset = 0;
  zmq::message_t data;  // exactly the chunk's bytes
  Hash hash;            // SHA-256 of data
};

// Anything a put can stream as chunks: a local file (ChunkReader) or bytes
// made up on the fly (the load generator's files). One thread at a time.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  virtual std::uint64_t size() const = 0;
  virtual std::uint32_t chunk_size() const = 0;
  // The next chunk with its SHA-256, or nullopt after the last one.
  virtual Result<std::optional<Chunk>> next() = 0;
  // Starts again from chunk 0 (for a second pass over the same bytes).
  virtual void rewind() = 0;
};

class ChunkReader final : public ChunkSource {
 public:
  // Opens a regular file for reading. kIo with the path and the OS reason
  // when it is missing, unreadable or not a regular file.
  // REQUIRES: chunk_size > 0.
  static Result<ChunkReader> open(const std::string& path, std::uint32_t chunk_size);

  ChunkReader(ChunkReader&& other) noexcept;
  ChunkReader& operator=(ChunkReader&& other) noexcept;
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;
  ~ChunkReader() override;

  // Size at open time; the reader never reads past it.
  std::uint64_t size() const override { return size_; }
  std::uint32_t chunk_size() const override { return chunk_size_; }
  std::uint64_t chunk_count() const;

  // The next chunk, or nullopt after the last one. kIo on a read error or
  // when the file shrank while being read.
  Result<std::optional<Chunk>> next() override;

  // Starts again from chunk 0 (for a second pass over the same file).
  void rewind() override { next_index_ = 0; }

 private:
  ChunkReader(int fd, std::string path, std::uint64_t size, std::uint32_t chunk_size)
      : fd_(fd), path_(std::move(path)), size_(size), chunk_size_(chunk_size) {}

  int fd_ = -1;
  std::string path_;
  std::uint64_t size_ = 0;
  std::uint32_t chunk_size_ = 0;
  std::uint64_t next_index_ = 0;
};

}  // namespace p2p
