#include "client/part_claim.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace p2p::client {

namespace {

// Why the existing .part open on `fd` is not this get's to resume; "" when it is.
std::string not_ours(int fd, const struct stat& st, const std::string& owner) {
  // Writing into a file with other names would change them too.
  if (st.st_nlink != 1) return "has other hard links";
  char value[65];  // one more than a file id: a longer value is not ours either
  const ssize_t n = ::fgetxattr(fd, kPartOwnerXattr, value, sizeof value);
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

}  // namespace

const char* special_kind(mode_t mode) {
  if (S_ISREG(mode) || S_ISLNK(mode)) return nullptr;
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status special_file(const std::string& what, const std::string& path, const char* kind) {
  return {ErrorCode::kIo, what + "'" + path + "' is " + kind + ", not a regular file: a get replaces only regular files"};
}

// Each round ends when the .part is claimed or refused,
// or starts again when it changed under this get (another get or a user
// removed or renamed it between two steps): a few rounds suffice.
Result<PartClaim> claim_part(const std::string& part, const std::string& path, const std::string& owner, bool force) {
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
      (void)::fsetxattr(fd, kPartOwnerXattr, owner.data(), owner.size(), 0);
      return PartClaim{fd, false};
    }
    const std::string why = not_ours(fd, held, owner);
    if (why.empty()) return PartClaim{fd, true};
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

}  // namespace p2p::client
