#include "common/direct_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/chunk_buffer_pool.h"

namespace p2p {

namespace {

Status pwrite_all(int fd, const char* p, std::size_t size, std::uint64_t offset, const std::string& path) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    if (n == 0) return errno_status("write", path, EIO);
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

int open_maybe_direct(const std::string& path, int flags, unsigned mode, bool want_direct, bool* direct) {
  *direct = false;
  // Opened first, O_DIRECT turned on after: a file system without O_DIRECT
  // (ramfs; tmpfs before Linux 6.6) makes open(O_CREAT | O_DIRECT) create the
  // file and then fail with EINVAL, so a second, buffered open(O_EXCL) would
  // find it there.
  int fd = ::open(path.c_str(), flags, static_cast<mode_t>(mode));
  if (fd < 0 || !want_direct) return fd;
  const int status = ::fcntl(fd, F_GETFL);
  *direct = status != -1 && ::fcntl(fd, F_SETFL, status | O_DIRECT) == 0;
  return fd;  // not direct: ordinary writes, as the caller asked to allow
}

namespace {

// Reads from offset 0 into `buf` until `capacity` bytes or the end of the
// file; the bytes read. An O_DIRECT read asks for whole blocks and gets the
// file's exact size at its end.
Result<std::size_t> pread_to_end(int fd, char* buf, std::size_t capacity, const std::string& path) {
  std::size_t done = 0;
  while (done < capacity) {
    ssize_t n = ::pread(fd, buf + done, capacity - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("read", path, errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// read_direct_from and read_cached_from: the whole file from `fd` into a
// message, with O_DIRECT when `try_direct` and the file is large enough.
Result<zmq::message_t> read_whole(int fd, const std::string& path, std::size_t max_size, bool try_direct) {
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_status("stat", path, errno);
  const auto size = static_cast<std::size_t>(st.st_size);
  if (static_cast<std::uint64_t>(st.st_size) > max_size)
    return Status{ErrorCode::kIo, path + " is larger than " + std::to_string(max_size) + " bytes"};
  // Only a large file turns O_DIRECT on (Linux allows it on an open
  // descriptor); a file system without it refuses with EINVAL and the read
  // stays buffered.
  const bool direct = try_direct && size >= kDirectMinBytes && ::fcntl(fd, F_SETFL, O_DIRECT) == 0;
  // Read straight into the message that will be sent; its buffer holds
  // whole blocks when the read is direct (chunk_message).
  Result<zmq::message_t> msg = chunk_message(size);
  if (!msg.ok()) return msg.status();
  // A count other than the size shows a file that changed since fstat.
  Result<std::size_t> got =
      pread_to_end(fd, static_cast<char*>(msg->data()), direct ? direct_padded(size) : size, path);
  if (!got.ok()) return got.status();
  if (got.value() != size) return Status{ErrorCode::kIo, path + " changed size while read"};
  return std::move(msg.value());
}

}  // namespace

Result<zmq::message_t> read_direct(const std::string& path, std::size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  return read_direct_from(fd, path, max_size);
}

Result<zmq::message_t> read_cached(const std::string& path, std::size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  return read_cached_from(fd, path, max_size);
}

Result<zmq::message_t> read_direct_from(int fd, const std::string& path, std::size_t max_size) {
  return read_whole(fd, path, max_size, true);
}

Result<zmq::message_t> read_cached_from(int fd, const std::string& path, std::size_t max_size) {
  return read_whole(fd, path, max_size, false);
}

void DirectBuffer::Free::operator()(char* p) const { std::free(p); }

Status DirectBuffer::assign(const void* data, std::size_t size) {
  const std::size_t padded = direct_padded(size);
  if (padded > capacity_) {
    void* p = std::aligned_alloc(kDirectAlignment, padded);
    if (!p) return {ErrorCode::kInternal, "out of memory for a " + std::to_string(padded) + "-byte write buffer"};
    buffer_.reset(static_cast<char*>(p));
    capacity_ = padded;
  }
  if (size > 0) std::memcpy(buffer_.get(), data, size);
  std::memset(buffer_.get() + size, 0, padded - size);
  size_ = size;
  return Status::Ok();
}

Status DirectBuffer::write_at(int fd, bool direct, std::uint64_t offset, const std::string& path) const {
  if (!direct) return pwrite_all(fd, buffer_.get(), size_, offset, path);
  if (!direct_aligned(offset)) return {ErrorCode::kInternal, "unaligned O_DIRECT write to " + path};
  // A zero-length write stays zero-length: nothing to pad.
  return pwrite_all(fd, buffer_.get(), size_ == 0 ? 0 : direct_padded(size_), offset, path);
}

Status DirectWriter::pwrite(int fd, bool direct, const void* data, std::size_t size, std::uint64_t offset,
                            const std::string& path) {
  if (!direct || size == 0) return pwrite_all(fd, static_cast<const char*>(data), size, offset, path);
  if (Status s = buffer_.assign(data, size); !s.ok()) return s;
  return buffer_.write_at(fd, true, offset, path);
}

}  // namespace p2p
