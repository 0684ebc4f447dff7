#include "common/chunk_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/chunk_buffer_pool.h"
#include "common/manifest.h"
#include "common/sha256.h"

namespace p2p {

Result<ChunkReader> ChunkReader::open(const std::string& path, std::uint32_t chunk_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path, errno);
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    // Directories open fine for reading; pipes have no size to place by.
    return Status{ErrorCode::kIo, "cannot read '" + path + "': " +
                                      (S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file")};
  }
  // Sequential reads of the whole file: let the kernel read ahead.
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return ChunkReader(fd, path, static_cast<std::uint64_t>(st.st_size), chunk_size);
}

ChunkReader::ChunkReader(ChunkReader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      size_(other.size_),
      chunk_size_(other.chunk_size_),
      next_index_(other.next_index_) {}

ChunkReader& ChunkReader::operator=(ChunkReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    size_ = other.size_;
    chunk_size_ = other.chunk_size_;
    next_index_ = other.next_index_;
  }
  return *this;
}

ChunkReader::~ChunkReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t ChunkReader::chunk_count() const { return chunk_count_for(size_, chunk_size_); }

Result<std::optional<Chunk>> ChunkReader::next() {
  if (next_index_ >= chunk_count()) return std::optional<Chunk>();
  Chunk chunk;
  chunk.index = next_index_;
  chunk.offset = next_index_ * chunk_size_;
  auto length = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size_ - chunk.offset));
  // A pooled buffer, not a fresh one: ZeroMQ's I/O thread frees the chunk
  // after the send, and a fresh buffer a chunk faults in all its pages.
  Result<zmq::message_t> buffer = chunk_message(length);
  if (!buffer.ok()) return buffer.status();
  chunk.data = std::move(buffer.value());
  auto* out = static_cast<char*>(chunk.data.data());
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd_, out + done, length - done, static_cast<off_t>(chunk.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", path_, errno);
    }
    if (n == 0) return Status{ErrorCode::kIo, "'" + path_ + "' shrank while it was being read"};
    done += static_cast<std::size_t>(n);
  }
  chunk.hash = sha256(out, length);
  ++next_index_;
  return std::optional<Chunk>(std::move(chunk));
}

}  // namespace p2p
