#include "common/chunk_store.h"

#include <unordered_set>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <system_error>

#include "common/codec.h"
#include "common/direct_io.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sha256.h"

namespace p2p {

namespace fs = std::filesystem;

namespace {

// Closes a file descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error close() may carry (delayed write errors).
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status write_all(int fd, const void* data, std::size_t size, const fs::path& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status read_all(int fd, void* data, std::size_t size, const fs::path& path) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("read", path, errno);
    }
    if (n == 0) return {ErrorCode::kIo, "short read " + path.string()};
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

// Reads a whole file of at most `max_size` bytes.
Result<std::string> read_file(const fs::path& path, std::uint64_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno_status("open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status("stat", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) > max_size)
    return Status{ErrorCode::kIo, path.string() + " is larger than " + std::to_string(max_size) + " bytes"};
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  if (Status s = read_all(fd.get(), bytes.data(), bytes.size(), path); !s.ok()) return s;
  return bytes;
}

// A rename is durable only once its directory is synced.
Status fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errno_status("open", dir, errno);
  if (::fsync(fd.get()) != 0) return errno_status("fsync", dir, errno);
  return Status::Ok();
}

std::optional<Manifest> decode_manifest(const std::string& bytes) {
  Manifest m;
  if (!codec::decode(bytes.data(), bytes.size(), &m).ok()) return std::nullopt;
  return m;
}

}  // namespace

ChunkStore::ChunkStore(fs::path dir, std::uint64_t capacity, FileSystemSync sync)
    : dir_(std::move(dir)),
      file_system_sync_(std::move(sync)),
      capacity_(capacity),
      data_sync_([this] { return sync_chunks(); }),
      manifest_dir_sync_([this] { return fsync_dir(dir_ / "manifests"); }) {}

fs::path ChunkStore::chunk_path_in(const fs::path& dir, const Hash& hash) {
  std::string hex = hash.hex();
  return dir / "chunks" / hex.substr(0, 2) / hex;
}

fs::path ChunkStore::chunk_path(const Hash& hash) const { return chunk_path_in(dir_, hash); }

fs::path ChunkStore::manifest_path(const Hash& file_id) const { return dir_ / "manifests" / file_id.hex(); }

fs::path ChunkStore::tmp_path() {
  std::uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++tmp_counter_;
  }
  return dir_ / "tmp" / (std::to_string(::getpid()) + "-" + std::to_string(n));
}

Status ChunkStore::write_tmp(const fs::path& tmp, const void* data, std::size_t size, FileKind kind) {
  Status s = [&]() -> Status {
    bool direct = false;
    Fd fd(open_maybe_direct(tmp.string(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644,
                            kind == FileKind::kChunk && size >= kDirectMinBytes, &direct));
    if (fd.get() < 0) return errno_status("create", tmp, errno);
    if (direct) {
      // One bounce buffer per thread: transfer workers and copy threads store at once.
      thread_local DirectWriter writer;
      if (Status w = writer.pwrite(fd.get(), true, data, size, 0, tmp.string()); !w.ok()) return w;
      if (size % kDirectAlignment != 0 && ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
        return errno_status("truncate", tmp, errno);
    } else if (Status w = write_all(fd.get(), data, size, tmp); !w.ok()) {
      return w;
    }
    if (fd.close() != 0) return errno_status("close", tmp, errno);
    return Status::Ok();
  }();
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Status ChunkStore::install(const fs::path& tmp, const fs::path& final_path, FileKind kind) {
  Status s = [&]() -> Status {
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec) return {ErrorCode::kIo, "mkdir " + final_path.parent_path().string() + ": " + ec.message()};
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) return errno_status("rename", final_path, errno);
    if (kind == FileKind::kChunk) return Status::Ok();  // synced with its file's manifest
    return manifest_dir_sync_.sync();
  }();
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Status ChunkStore::sync_chunks() {
  if (file_system_sync_) return file_system_sync_(dir_);
  Fd fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return errno_status("open", dir_, errno);
  if (::syncfs(fd.get()) != 0) return errno_status("syncfs", dir_, errno);
  return Status::Ok();
}

Result<ChunkStore::LoadReport> ChunkStore::load() {
  try {
    std::error_code ec;
    for (const char* sub : {"chunks", "manifests", "tmp"}) {
      fs::create_directories(dir_ / sub, ec);
      if (ec) return Status{ErrorCode::kIo, "mkdir " + (dir_ / sub).string() + ": " + ec.message()};
    }
    // Leftovers of writes a crash interrupted.
    for (const auto& entry : fs::directory_iterator(dir_ / "tmp")) fs::remove_all(entry.path());

    LoadReport report;
    if (Status s = load_chunks(&report); !s.ok()) return s;
    if (Status s = load_manifests(&report); !s.ok()) return s;

    std::lock_guard lock(mu_);
    if (capacity_ == 0) {
      struct statvfs vfs {};
      if (::statvfs(dir_.c_str(), &vfs) != 0) return errno_status("statvfs", dir_, errno);
      capacity_ = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize + stored_bytes_;
    }
    std::unordered_set<Hash, HashHasher> used;
    for (const auto& [id, m] : manifests_) {
      bool complete = true;
      for (const Hash& h : m.chunks) {
        used.insert(h);
        complete = complete && chunks_.contains(h);
      }
      if (!complete) report.incomplete_manifests.push_back(id);
    }
    // Chunks of puts or copies that never committed: nothing will ever ask for them.
    for (auto it = chunks_.begin(); it != chunks_.end();) {
      if (used.contains(it->first)) {
        ++it;
        continue;
      }
      fs::path chunk_file = chunk_path(it->first);
      if (::unlink(chunk_file.c_str()) != 0 && errno != ENOENT) {
        P2P_WARN("store: cannot delete unused chunk %s: %s", chunk_file.c_str(), std::strerror(errno));
        ++it;  // still on disk, so still counted; tried again at the next start
        continue;
      }
      stored_bytes_ -= it->second;
      report.orphan_bytes += it->second;
      ++report.orphan_chunks;
      it = chunks_.erase(it);
    }
    report.chunks -= report.orphan_chunks;
    return report;
  } catch (const std::exception& e) {  // filesystem_error from the directory walks
    return Status{ErrorCode::kIo, std::string("load ") + dir_.string() + ": " + e.what()};
  }
}

Status ChunkStore::load_chunks(LoadReport* report) {
  for (const auto& bucket : fs::directory_iterator(dir_ / "chunks")) {
    if (!bucket.is_directory()) {
      fs::remove(bucket.path());
      continue;
    }
    for (const auto& entry : fs::directory_iterator(bucket.path())) {
      const fs::path& path = entry.path();
      std::optional<Hash> name = Hash::from_hex(path.filename().string());
      if (!name || name->hex() != path.filename().string() ||
          name->hex().substr(0, 2) != bucket.path().filename().string()) {
        P2P_WARN("removing stray file %s", path.c_str());
        fs::remove_all(path);
        continue;
      }
      // O_DIRECT, like every chunk read: this VM's page cache made the
      // start-up scan 3.7 ms a MiB against 0.5-0.8 (docs/performance.md).
      Result<zmq::message_t> bytes = read_direct(path.string(), limits::kMaxChunkSize);
      if (!bytes.ok() || sha256(bytes->data(), bytes->size()) != *name) {
        P2P_WARN("dropping corrupted chunk %s", name->hex().c_str());
        fs::remove(path);
        report->dropped_chunks.push_back(*name);
        continue;
      }
      std::lock_guard lock(mu_);
      chunks_[*name] = static_cast<std::uint32_t>(bytes->size());
      stored_bytes_ += bytes->size();
      ++report->chunks;
    }
  }
  return Status::Ok();
}

Status ChunkStore::load_manifests(LoadReport* report) {
  for (const auto& entry : fs::directory_iterator(dir_ / "manifests")) {
    const fs::path& path = entry.path();
    std::optional<Hash> name = Hash::from_hex(path.filename().string());
    Result<std::string> bytes = read_file(path, static_cast<std::uint64_t>(limits::kMaxControlMessage));
    std::optional<Manifest> m;
    if (name && bytes.ok()) m = decode_manifest(bytes.value());
    if (!m || !m->validate().ok() || m->file_id() != *name) {
      P2P_WARN("dropping unreadable manifest %s", path.c_str());
      fs::remove_all(path);
      ++report->dropped_manifests;
      continue;
    }
    std::lock_guard lock(mu_);
    manifests_[*name] = std::move(*m);
    ++report->manifests;
  }
  return Status::Ok();
}

Status ChunkStore::put_chunk(const Hash& hash, const void* data, std::size_t size, Verify verify) {
  if (verify == Verify::kYes && size <= limits::kMaxChunkSize && sha256(data, size) != hash)
    return {ErrorCode::kBadChunk, "chunk bytes do not match " + hash.hex()};
  Result<StagedChunk> staged = stage_chunk(hash, data, size);
  if (!staged.ok()) return staged.status();
  return keep(staged.value());
}

Result<ChunkStore::StagedChunk> ChunkStore::stage_chunk(const Hash& hash, const void* data, std::size_t size) {
  if (size > limits::kMaxChunkSize)
    return Status{ErrorCode::kBadChunk, "chunk of " + std::to_string(size) + " bytes exceeds the maximum chunk size"};
  StagedChunk staged;
  staged.hash = hash;
  {
    std::lock_guard lock(mu_);
    if (chunks_.contains(hash)) return staged;  // nothing to write
    if (stored_bytes_ + reserved_bytes_ + size > capacity_)
      return Status{ErrorCode::kNoSpace,
                    "chunk of " + std::to_string(size) + " bytes exceeds the free capacity (" +
                        std::to_string(capacity_ - std::min(capacity_, stored_bytes_ + reserved_bytes_)) + " bytes)"};
    reserved_bytes_ += size;
  }
  staged.size = size;
  staged.tmp = tmp_path();
  if (Status s = write_tmp(staged.tmp, data, size, FileKind::kChunk); !s.ok()) {
    unreserve(size);
    return s;
  }
  staged.written = true;
  return staged;
}

void ChunkStore::unreserve(std::size_t size) {
  std::lock_guard lock(mu_);
  reserved_bytes_ -= size;
}

Status ChunkStore::keep(StagedChunk& staged) {
  if (!staged.written) return Status::Ok();
  staged.written = false;
  // Two threads may write the same new chunk at once: both renames put the
  // same bytes in place, and the index counts it once.
  Status s = install(staged.tmp, chunk_path(staged.hash), FileKind::kChunk);
  std::lock_guard lock(mu_);
  reserved_bytes_ -= staged.size;
  if (s.ok() && !chunks_.contains(staged.hash)) {
    chunks_[staged.hash] = static_cast<std::uint32_t>(staged.size);
    stored_bytes_ += staged.size;
  }
  return s;
}

void ChunkStore::discard(StagedChunk& staged) {
  if (!staged.written) return;
  staged.written = false;
  ::unlink(staged.tmp.c_str());
  unreserve(staged.size);
}

Status ChunkStore::keep_if_intact(StagedChunk& staged) {
  if (!staged.written) return Status::Ok();
  Result<zmq::message_t> bytes = read_direct(staged.tmp.string(), limits::kMaxChunkSize);
  if (!bytes.ok() || sha256(bytes->data(), bytes->size()) != staged.hash) {
    discard(staged);
    if (!bytes.ok()) return bytes.status();
    return {ErrorCode::kBadChunk, "chunk bytes do not match " + staged.hash.hex()};
  }
  return keep(staged);
}

Result<int> ChunkStore::open_stored_chunk(const Hash& hash, const std::string& path, bool* gone) {
  *gone = false;
  // Looked up and opened under the mutex, as remove_file unlinks under it
  // and keep() renames into place before indexing: a chunk indexed here is
  // on disk, and once open it reads whole even if unlinked next. Checked
  // apart, a remove and a re-put between the two could make a present
  // chunk an I/O error, which drops the whole holder from a fetch.
  std::lock_guard lock(mu_);
  auto it = chunks_.find(hash);
  if (it == chunks_.end()) return Status{ErrorCode::kNotFound, "no chunk " + hash.hex()};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno != ENOENT) return errno_status("open", path, errno);
  // So it was deleted behind our back: nothing of ours unlinks an indexed
  // chunk outside this mutex. Forgotten here, a put or a copy can store it
  // again.
  P2P_WARN("store: chunk %s is gone from disk; the files that used it are no longer whole here", path.c_str());
  forget_lost_locked(it);
  *gone = true;
  return Status{ErrorCode::kNotFound, "chunk " + hash.hex() + " is gone from disk"};
}

Result<zmq::message_t> ChunkStore::read_chunk(const Hash& hash) {
  const std::string path = chunk_path(hash).string();
  bool gone = false;
  Result<int> fd = open_stored_chunk(hash, path, &gone);
  if (!fd.ok()) return fd.status();
  // Straight into the message that will be sent: no second copy. Through
  // the page cache, so a chunk many clients get is read from disk once
  // (direct_io.h).
  return read_cached_from(fd.value(), path, limits::kMaxChunkSize);
}

void ChunkStore::forget_lost_locked(ChunkIndex::iterator chunk) {
  stored_bytes_ -= chunk->second;
  lost_chunks_.push_back(chunk->first);
  chunks_.erase(chunk);
}

Result<ChunkStore::ScrubOutcome> ChunkStore::scrub_chunk(const Hash& hash, ScrubRead how) {
  const std::string path = chunk_path(hash).string();
  bool gone = false;
  Result<int> fd = open_stored_chunk(hash, path, &gone);
  if (!fd.ok()) {
    if (gone) return ScrubOutcome{0, true};
    if (fd.status().code() == ErrorCode::kNotFound) return ScrubOutcome{};  // removed since the pass began
    return fd.status();
  }
  struct stat before {};
  if (::fstat(fd.value(), &before) != 0) {
    const int err = errno;
    ::close(fd.value());
    return errno_status("fstat", path, err);
  }
  // Only clean pages go (chunks are never rewritten in place); failing is
  // harmless: the read then sees what GET_CHUNK would.
  if (how == ScrubRead::kCachedPagesDropped) (void)::posix_fadvise(fd.value(), 0, 0, POSIX_FADV_DONTNEED);
  Result<zmq::message_t> bytes = read_direct_from(fd.value(), path, limits::kMaxChunkSize);
  if (!bytes.ok()) return bytes.status();
  const std::size_t size = bytes->size();
  if (sha256(bytes->data(), size) == hash) return ScrubOutcome{size, false};

  std::lock_guard lock(mu_);
  auto it = chunks_.find(hash);
  struct stat now {};
  // Removed, or removed and stored again (a new file), while it was read:
  // what was read is not what is stored now.
  if (it == chunks_.end() || ::stat(path.c_str(), &now) != 0 || now.st_ino != before.st_ino ||
      now.st_mtim.tv_sec != before.st_mtim.tv_sec || now.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
    return ScrubOutcome{size, false};
  // A commit between its chunk check and its indexing would name a chunk
  // that is gone, and no lost file would cover it: as remove_file, keep
  // such chunks; the next pass finds this one in an indexed manifest.
  for (const Manifest* m : pending_)
    if (std::find(m->chunks.begin(), m->chunks.end(), hash) != m->chunks.end()) return ScrubOutcome{size, false};
  // Forgotten even if it cannot be deleted: bytes that do not match their
  // name must not be served (load() drops the file at the next start).
  if (::unlink(path.c_str()) != 0)
    P2P_WARN("store: scrub: cannot delete corrupt chunk %s: %s", path.c_str(), std::strerror(errno));
  P2P_WARN("store: scrub: chunk %s does not match its name; the files that used it are no longer whole here",
           path.c_str());
  forget_lost_locked(it);
  return ScrubOutcome{size, true};
}

std::vector<Hash> ChunkStore::chunk_hashes() const {
  std::lock_guard lock(mu_);
  std::vector<Hash> hashes;
  hashes.reserve(chunks_.size());
  for (const auto& [hash, size] : chunks_) hashes.push_back(hash);
  return hashes;
}

std::optional<Hash> ChunkStore::take_lost_file() {
  std::lock_guard lock(mu_);
  if (!lost_chunks_.empty()) {
    // Matched here, on the owner's thread, not in read_chunk: a worker
    // serving a get should not walk every manifest. One walk per batch of
    // losses (the owner polls every 100 ms), so many losses cost few walks.
    const std::set<Hash> lost(lost_chunks_.begin(), lost_chunks_.end());
    lost_chunks_.clear();
    for (const auto& [id, m] : manifests_) {
      if (std::none_of(m.chunks.begin(), m.chunks.end(), [&](const Hash& h) { return lost.contains(h); })) continue;
      // Whole again (a put or copy stored the chunk since) is not lost.
      const bool whole = std::all_of(m.chunks.begin(), m.chunks.end(), [&](const Hash& h) { return chunks_.contains(h); });
      if (!whole && std::find(lost_files_.begin(), lost_files_.end(), id) == lost_files_.end()) lost_files_.push_back(id);
    }
  }
  if (lost_files_.empty()) return std::nullopt;
  Hash id = lost_files_.front();
  lost_files_.pop_front();
  return id;
}

bool ChunkStore::has_chunk(const Hash& hash) const {
  std::lock_guard lock(mu_);
  return chunks_.contains(hash);
}

Status ChunkStore::put_manifest(const Manifest& manifest) {
  Hash id = manifest.file_id();
  msgpack::sbuffer buf;
  msgpack::pack(buf, manifest);
  // One file-system sync makes the file's chunks (written without fsync) and
  // the manifest's bytes durable before the manifest gets its name, so a
  // manifest on disk never names chunks a crash could lose. Then the rename
  // is made durable. Commits running at once share both flushes.
  //
  // From its check below until it is indexed, the manifest counts as a user
  // of its chunks (pending_), so a remove_file of another file sharing them
  // cannot unlink them under it: a caller's own missing_chunks() check came
  // before and proves nothing by now.
  {
    std::lock_guard lock(mu_);
    for (const Hash& h : manifest.chunks)
      if (!chunks_.contains(h))
        return {ErrorCode::kMissingChunks, "chunk " + h.hex() + " of " + manifest.name + " is no longer here"};
    pending_.push_back(&manifest);
  }
  Status s = write_and_install_manifest(id, buf);
  std::lock_guard lock(mu_);
  pending_.erase(std::find(pending_.begin(), pending_.end(), &manifest));
  if (s.ok()) manifests_[id] = manifest;
  return s;
}

Status ChunkStore::write_and_install_manifest(const Hash& id, const msgpack::sbuffer& buf) {
  const fs::path tmp = tmp_path();
  if (Status s = write_tmp(tmp, buf.data(), buf.size(), FileKind::kManifest); !s.ok()) return s;
  if (Status s = data_sync_.sync(); !s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return install(tmp, manifest_path(id), FileKind::kManifest);
}

Result<Manifest> ChunkStore::manifest(const Hash& file_id) const {
  std::lock_guard lock(mu_);
  auto it = manifests_.find(file_id);
  if (it == manifests_.end()) return Status{ErrorCode::kNotFound, "no manifest " + file_id.hex()};
  return it->second;
}

std::vector<Hash> ChunkStore::file_ids() const {
  std::lock_guard lock(mu_);
  std::vector<Hash> out;
  out.reserve(manifests_.size());
  for (const auto& [id, m] : manifests_) out.push_back(id);
  return out;
}

bool ChunkStore::complete(const Manifest& manifest) const {
  std::lock_guard lock(mu_);
  for (const Hash& h : manifest.chunks)
    if (!chunks_.contains(h)) return false;
  return true;
}

std::vector<Hash> ChunkStore::missing_chunks(const Manifest& manifest) const {
  std::vector<Hash> missing;
  std::set<Hash> seen;
  std::lock_guard lock(mu_);
  for (const Hash& h : manifest.chunks)
    if (!chunks_.contains(h) && seen.insert(h).second) missing.push_back(h);
  return missing;
}

Result<ChunkStore::RemoveReport> ChunkStore::remove_file(const Hash& file_id) {
  RemoveReport report;
  {
    // Unlinks happen under the mutex: a put_chunk of the same hash that starts
    // after this block rewrites the chunk in full and re-indexes it, and one
    // that checked before it saw the chunk present and wrote nothing.
    std::lock_guard lock(mu_);
    auto it = manifests_.find(file_id);
    if (it == manifests_.end()) return Status{ErrorCode::kNotFound, "no manifest " + file_id.hex()};
    fs::path path = manifest_path(file_id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("unlink", path, errno);
    std::set<Hash> candidates(it->second.chunks.begin(), it->second.chunks.end());
    manifests_.erase(it);
    auto keep_shared = [&](const Manifest& other) {
      for (const Hash& h : other.chunks) {
        if (candidates.erase(h) > 0) ++report.shared;
      }
    };
    for (const Manifest* other : pending_) keep_shared(*other);
    for (const auto& [other_id, other] : manifests_) {
      if (candidates.empty()) break;
      keep_shared(other);
    }
    for (const Hash& h : candidates) {
      auto chunk = chunks_.find(h);
      if (chunk == chunks_.end()) continue;  // never fetched here (an incomplete file)
      fs::path chunk_file = chunk_path(h);
      if (::unlink(chunk_file.c_str()) != 0 && errno != ENOENT) {
        P2P_WARN("store: cannot delete chunk %s: %s", chunk_file.c_str(), std::strerror(errno));
        continue;
      }
      stored_bytes_ -= chunk->second;
      report.bytes += chunk->second;
      ++report.chunks;
      chunks_.erase(chunk);
    }
  }
  // The manifest must not come back after a crash; chunk files may (load()
  // keeps them as unreferenced chunks), so only the manifest directory is synced.
  if (Status s = manifest_dir_sync_.sync(); !s.ok())
    P2P_WARN("store: removal of %s may not survive a crash: %s", file_id.hex().c_str(), s.to_string().c_str());
  return report;
}

std::uint64_t ChunkStore::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

std::uint64_t ChunkStore::stored_bytes() const {
  std::lock_guard lock(mu_);
  return stored_bytes_;
}

std::uint64_t ChunkStore::free_bytes() const {
  std::lock_guard lock(mu_);
  std::uint64_t used = stored_bytes_ + reserved_bytes_;
  return used >= capacity_ ? 0 : capacity_ - used;
}

std::size_t ChunkStore::chunk_count() const {
  std::lock_guard lock(mu_);
  return chunks_.size();
}

}  // namespace p2p
