#include "client/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/sha256.h"

namespace p2p::client {

namespace {

Status io_error(const std::string& what, const std::string& path, int err) {
  return {ErrorCode::kIo, what + " '" + path + "': " + std::strerror(err)};
}

// Reads exactly `size` bytes at `offset`; false on error or end of file.
bool read_exact(int fd, char* buf, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buf + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<OutputFile>> OutputFile::open(const std::string& path, const Manifest& manifest,
                                                      bool force) {
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status{ErrorCode::kIo, "output '" + path + "' is a directory"};
    if (!force) return Status{ErrorCode::kIo, "output '" + path + "' exists (use --force to overwrite)"};
  }
  const std::string part = path + ".part";
  int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot write", part, errno);
  std::unique_ptr<OutputFile> out(new OutputFile(path, manifest, fd));
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", part, errno);
  if (Status s = out->scan_existing(static_cast<std::uint64_t>(st.st_size)); !s.ok()) return s;
  // Exactly the file's size: drops any tail of a longer old .part.
  if (::ftruncate(fd, static_cast<off_t>(manifest.size)) != 0) return io_error("cannot resize", part, errno);
  // A second descriptor with O_DIRECT for the chunk writes; where the file
  // system refuses it (or the chunk size is not block-aligned, or the file is
  // small: common/direct_io.h) they use fd.
  if (direct_aligned(manifest.chunk_size) && manifest.size >= kDirectMinBytes)
    out->direct_fd_ = ::open(part.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
  const bool direct = out->direct_fd_ >= 0;
  out->behind_ = std::make_unique<WriteBehind>(direct ? out->direct_fd_ : fd, direct, part);
  return out;
}

Status OutputFile::scan_existing(std::uint64_t part_size) {
  present_.assign(manifest_.chunk_count(), false);
  std::vector<char> buf;  // one chunk; allocated only if there is something to check
  for (std::uint64_t i = 0; i < manifest_.chunk_count(); ++i) {
    const std::uint32_t length = manifest_.chunk_length(i);
    const std::uint64_t offset = manifest_.chunk_offset(i);
    bool kept = false;
    if (offset + length <= part_size) {
      buf.resize(manifest_.chunk_size);
      kept = read_exact(fd_, buf.data(), length, offset) && sha256(buf.data(), length) == manifest_.chunks[i];
    }
    if (kept) {
      reused_bytes_ += length;
      present_[i] = true;
    }
  }
  return Status::Ok();
}

std::vector<std::uint64_t> OutputFile::missing() const {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < present_.size(); ++i)
    if (!present_[i]) out.push_back(i);
  return out;
}

OutputFile::~OutputFile() {
  behind_.reset();  // joins the writer before its descriptor closes
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (fd_ >= 0) ::close(fd_);
}

Status OutputFile::write(std::uint64_t index, const void* data, std::size_t size) {
  if (index >= present_.size() || size != manifest_.chunk_length(index))
    return {ErrorCode::kBadRequest, "chunk " + std::to_string(index) + " does not fit '" + part_path() + "'"};
  Status s = behind_->write(data, size, manifest_.chunk_offset(index));
  if (!s.ok()) return {ErrorCode::kIo, "cannot " + s.message()};
  present_[index] = true;
  return Status::Ok();
}

Status OutputFile::finish() {
  if (Status s = behind_->flush(); !s.ok()) return {ErrorCode::kIo, "cannot " + s.message()};
  // A padded O_DIRECT write of the last chunk may have run past the end.
  if (::ftruncate(fd_, static_cast<off_t>(manifest_.size)) != 0) return io_error("cannot resize", part_path(), errno);
  if (::fsync(fd_) != 0) return io_error("cannot sync", part_path(), errno);
  if (::rename(part_path().c_str(), path_.c_str()) != 0) return io_error("cannot rename to", path_, errno);
  // The rename is durable only once its directory is synced too.
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace p2p::client
