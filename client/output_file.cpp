#include "client/output_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "client/part_claim.h"
#include "common/sha256.h"

namespace p2p::client {

namespace {

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


// Refuses an output open() must not replace; OK when `path` does not exist.
Status check_output(const std::string& path, bool force) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? Status::Ok() : io_error("cannot stat", path, errno);
  if (const char* kind = special_kind(st.st_mode)) return special_file("output ", path, kind);
  if (!force) return {ErrorCode::kIo, "output '" + path + "' exists (use --force to overwrite)"};
  return Status::Ok();
}


bool same_file(int a, int b) {
  struct stat sa{}, sb{};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

std::string OutputFile::part_path_for(const std::string& path) {
  const std::filesystem::path out(path);
  const std::string name = out.filename().string();
  if (name.size() + std::strlen(".part") <= NAME_MAX) return path + ".part";
  const std::string digits = sha256(name.data(), name.size()).hex().substr(0, 16);
  return (out.parent_path() / ("." + digits + ".p2p-part")).string();
}

Result<std::unique_ptr<OutputFile>> OutputFile::open(const std::string& path, const Manifest& manifest,
                                                      bool force) {
  if (Status s = check_output(path, force); !s.ok()) return s;
  std::string part = part_path_for(path);
  Result<PartClaim> claim = claim_part(part, path, manifest.file_id().hex(), force);
  if (!claim.ok()) return claim.status();
  const int fd = claim->fd;
  std::unique_ptr<OutputFile> out(new OutputFile(path, std::move(part), manifest, fd, force));
  struct stat st{};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", out->part_, errno);
  // A .part just created (or replaced) has nothing to keep.
  const std::uint64_t existing = claim->resume ? static_cast<std::uint64_t>(st.st_size) : 0;
  if (Status s = out->scan_existing(existing); !s.ok()) return s;
  // Exactly the file's size: drops any tail of a longer old .part.
  if (::ftruncate(fd, static_cast<off_t>(manifest.size)) != 0) return io_error("cannot resize", out->part_, errno);
  // A second descriptor with O_DIRECT for the chunk writes; where the file
  // system refuses it (or the chunk size is not block-aligned, or the file is
  // small: common/direct_io.h) they use fd. It is opened by name again, so
  // it is kept only if it is the file claimed above.
  if (direct_aligned(manifest.chunk_size) && manifest.size >= kDirectMinBytes) {
    bool direct = false;
    int dfd = open_maybe_direct(out->part_, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0, true, &direct);
    if (dfd >= 0 && (!direct || !same_file(fd, dfd))) {
      ::close(dfd);
      dfd = -1;
    }
    out->direct_fd_ = dfd;
  }
  const bool direct = out->direct_fd_ >= 0;
  out->behind_ = std::make_unique<WriteBehind>(direct ? out->direct_fd_ : fd, direct, out->part_);
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
    return {ErrorCode::kBadRequest, "chunk " + std::to_string(index) + " does not fit '" + part_ + "'"};
  Status s = behind_->write(data, size, manifest_.chunk_offset(index));
  if (!s.ok()) return {ErrorCode::kIo, "cannot " + s.message()};
  present_[index] = true;
  return Status::Ok();
}

Status OutputFile::finish() {
  if (Status s = behind_->flush(); !s.ok()) return {ErrorCode::kIo, "cannot " + s.message()};
  // A padded O_DIRECT write of the last chunk may have run past the end.
  if (::ftruncate(fd_, static_cast<off_t>(manifest_.size)) != 0) return io_error("cannot resize", part_, errno);
  if (::fsync(fd_) != 0) return io_error("cannot sync", part_, errno);
  if (Status s = rename_to_output(); !s.ok()) return s;
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

Status OutputFile::rename_to_output() const {
  // open() checked OUT, but a get takes a while: what appeared since is
  // refused as open() would have refused it.
  const Status appeared{ErrorCode::kIo, "output '" + path_ + "' appeared while it was got (use --force to overwrite; '" +
                                            part_ + "' holds the whole file)"};
  if (!force_) {
    // Atomic where the file system can: no window between check and rename.
    if (::renameat2(AT_FDCWD, part_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) == 0) return Status::Ok();
    if (errno == EEXIST) return appeared;
    if (errno != EINVAL && errno != ENOSYS) return io_error("cannot rename to", path_, errno);
  }
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (const char* kind = special_kind(st.st_mode)) return special_file("output ", path_, kind);
    if (!force_) return appeared;
  }
  if (::rename(part_.c_str(), path_.c_str()) != 0) return io_error("cannot rename to", path_, errno);
  return Status::Ok();
}

}  // namespace p2p::client
