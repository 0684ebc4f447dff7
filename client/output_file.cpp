#include "client/output_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
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

// What a file of `mode` is when no get may replace it, even with --force (a
// FIFO or a device named as the output is a mistake, and replacing it would
// break whoever uses it); nullptr for a regular file or a symbolic link.
const char* special_kind(mode_t mode) {
  if (S_ISREG(mode) || S_ISLNK(mode)) return nullptr;
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The refusal of a special file at `path`; no hint at --force, which would not help.
Status special_file(const std::string& what, const std::string& path, const char* kind) {
  return {ErrorCode::kIo, what + "'" + path + "' is " + kind + ", not a regular file: a get replaces only regular files"};
}

// Refuses an output open() must not replace; OK when `path` does not exist.
Status check_output(const std::string& path, bool force) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? Status::Ok() : io_error("cannot stat", path, errno);
  if (const char* kind = special_kind(st.st_mode)) return special_file("output ", path, kind);
  if (!force) return {ErrorCode::kIo, "output '" + path + "' exists (use --force to overwrite)"};
  return Status::Ok();
}

// Why the existing .part open on `fd` is not this get's to resume; "" when it is.
std::string not_ours(int fd, const struct stat& st, const std::string& owner) {
  // Writing into a file with other names would change them too.
  if (st.st_nlink != 1) return "has other hard links";
  char value[65];  // one more than a file id: a longer value is not ours either
  const ssize_t n = ::fgetxattr(fd, OutputFile::kOwnerXattr, value, sizeof value);
  if (n < 0) {
    const int err = errno;
    if (err == ENODATA) return "was not written by p2p";
    if (err == ENOTSUP) return "may not be this client's: its file system has no user xattrs to mark it with";
    if (err != ERANGE) return std::string("may not be this client's: cannot read its mark: ") + std::strerror(err);
    return "holds an interrupted get of another file";
  }
  if (owner != std::string_view(value, static_cast<std::size_t>(n))) return "holds an interrupted get of another file";
  return "";
}

// The .part this get writes: open, locked, marked as this client's.
struct Claim {
  int fd = -1;
  bool resume = false;  // an existing .part of this file: scan it
};

// Opens or creates `part` for a get of the file `owner` (hex id) to `path`,
// as the header says. Each round ends when the .part is claimed or refused,
// or starts again when it changed under this get (another get or a user
// removed or renamed it between two steps): a few rounds suffice.
Result<Claim> claim_part(const std::string& part, const std::string& path, const std::string& owner, bool force) {
  for (int round = 0; round < 8; ++round) {
    bool created = true;
    int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
      created = false;
      struct stat st{};
      if (::lstat(part.c_str(), &st) != 0) {
        if (errno == ENOENT) continue;
        return io_error("cannot stat", part, errno);
      }
      if (const char* kind = special_kind(st.st_mode)) return special_file("", part, kind);
      if (S_ISLNK(st.st_mode)) {
        if (!force) return Status{ErrorCode::kIo, "'" + part + "' is a symbolic link (use --force to replace it)"};
        if (::unlink(part.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", part, errno);
        continue;
      }
      // O_NONBLOCK: should a FIFO have taken its place since lstat, the open
      // must not wait for a writer (the fstat below refuses it).
      fd = ::open(part.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0 && (errno == ENOENT || errno == ELOOP)) continue;
    }
    if (fd < 0) return io_error("cannot write", part, errno);

    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK)
        return Status{ErrorCode::kIo, "output '" + path + "' is being written by another get ('" + part + "' is locked)"};
      return io_error("cannot lock", part, err);
    }
    // The lock holds the file fd opened: make sure that is still the .part,
    // not one that a get which held it has renamed to OUT meanwhile, or
    // replaced.
    struct stat held{}, named{};
    if (::fstat(fd, &held) != 0) {
      const int err = errno;
      ::close(fd);
      return io_error("cannot stat", part, err);
    }
    if (::lstat(part.c_str(), &named) != 0 || named.st_dev != held.st_dev || named.st_ino != held.st_ino) {
      ::close(fd);
      continue;
    }
    if (const char* kind = special_kind(held.st_mode)) {
      ::close(fd);
      return special_file("", part, kind);
    }
    if (created) {
      // Unmarked where the file system has no user xattrs: this get works,
      // and the next one will not resume it without --force (see the header).
      (void)::fsetxattr(fd, OutputFile::kOwnerXattr, owner.data(), owner.size(), 0);
      return Claim{fd, false};
    }
    const std::string why = not_ours(fd, held, owner);
    if (why.empty()) return Claim{fd, true};
    if (!force) {
      ::close(fd);
      return Status{ErrorCode::kIo, "'" + part + "' " + why + " (use --force to replace it)"};
    }
    // Replaced, not rewritten in place (its other hard links keep their
    // bytes). No get is writing it: this one holds its lock.
    const int err = ::unlink(part.c_str()) == 0 ? 0 : errno;
    ::close(fd);
    if (err != 0 && err != ENOENT) return io_error("cannot remove", part, err);
  }
  return Status{ErrorCode::kIo, "cannot claim '" + part + "': it kept changing while this get opened it"};
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
  Result<Claim> claim = claim_part(part, path, manifest.file_id().hex(), force);
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
