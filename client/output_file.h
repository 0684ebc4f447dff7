// OutputFile: where `get` writes, as a ChunkSink.
//
// Bytes go to a temporary file next to OUT (part_path_for(): OUT.part, or a
// shorter name when OUT.part would be too long) and only verified chunks are
// ever written there, so a .part left by an interrupted get is resumed:
// open() hashes every chunk already in it and keeps those that match the
// manifest. finish() makes the file durable (fsync) and renames it to OUT.
//
// The .part is claimed (client/part_claim.h) before anything is written to it:
// - it is locked (flock, exclusive, non-blocking) from open() until the
//   OutputFile closes, so a second get to the same OUT fails at once instead
//   of mixing its chunks into the first one's file and racing its rename;
// - it is resumed only if this client created it for this very file: the
//   user xattr kOwnerXattr holds the file id (hex), set when it is created.
//   Any other .part (a user's own file, an interrupted get of another file,
//   one with other hard links) is refused without `force` and replaced
//   (unlinked, created anew) with it. Where the file system has no user
//   xattrs nothing can be marked, so nothing is resumed without `force`:
//   refusing a file that may be the user's is the safe side, at the cost of
//   downloading again;
// - symbolic links are never followed, for the .part or OUT (O_NOFOLLOW;
//   rename replaces a link, never its target): with `force` the link itself
//   is replaced. An OUT or .part that exists and is neither a regular file
//   nor a link (directory, FIFO, device, socket) is refused even with
//   `force`: replacing one is never what the user meant.
//
// Chunks are written behind the fetch (client/write_behind.h), through
// O_DIRECT when the chunk size is a multiple of kDirectAlignment, the file
// has at least kDirectMinBytes and the file system allows it
// (common/direct_io.h: on this VM it makes a 1 GiB get ~2.5 s faster the
// first time); the last chunk is padded and finish() truncates the file to
// its size. A write error may surface one or more
// chunks later, and at the latest from finish().
//
// Errors are kIo with the path and the OS reason (the CLI exits 8, "output
// not writable"), including "another get is writing it": that get may well
// succeed, but this one cannot write OUT now.
// Ownership: owns the .part descriptors and the lock. Thread affinity: one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/chunk_fetcher.h"
#include "client/part_claim.h"
#include "client/write_behind.h"
#include "common/manifest.h"
#include "common/status.h"

namespace p2p::client {

class OutputFile final : public ChunkSink {
 public:
  // The user xattr that marks a .part as this client's, for the file whose
  // id (64 lowercase hex digits) it holds.
  static constexpr const char* kOwnerXattr = kPartOwnerXattr;

  // Where a get to `path` writes before the rename: `path`.part, or, when
  // that name would exceed NAME_MAX, `.<16 hex digits>.p2p-part` in the same
  // directory. The digits hash OUT's name, not the file id, so that every get
  // to one OUT (of any file) meets the same .part and its lock, and a resumed
  // get finds it again.
  static std::string part_path_for(const std::string& path);

  // Refuses an existing `path` unless `force` (and one that is neither a
  // regular file nor a symbolic link always), then claims part_path_for(path) as the header says, and
  // keeps the verified chunks of a .part it resumes.
  // REQUIRES: manifest.validate() is OK; `manifest` outlives the OutputFile.
  static Result<std::unique_ptr<OutputFile>> open(const std::string& path, const Manifest& manifest, bool force);

  ~OutputFile() override;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& part_path() const { return part_; }
  // Chunk indexes neither verified in the .part file by open() nor written
  // since, ascending: what a get asked again still has to fetch, without
  // reading back what this process wrote.
  std::vector<std::uint64_t> missing() const;
  std::uint64_t reused_bytes() const { return reused_bytes_; }

  // Queues the pwrite of one verified chunk at its offset; the chunk counts
  // as present from then on (a write that fails later fails finish(), and
  // every write() after it).
  Status write(std::uint64_t index, const void* data, std::size_t size) override;

  // Waits for the queued writes, truncates to the file's size, fsync,
  // rename OUT.part -> OUT, fsync the directory. Without `force` an OUT that
  // appeared since open() is not replaced (kIo; the .part is kept, complete);
  // with it, still only a regular file is.
  Status finish();

 private:
  OutputFile(std::string path, std::string part, const Manifest& manifest, int fd, bool force)
      : path_(std::move(path)), part_(std::move(part)), manifest_(manifest), fd_(fd), force_(force) {}
  Status scan_existing(std::uint64_t part_size);
  Status rename_to_output() const;

  std::string path_;
  std::string part_;
  const Manifest& manifest_;
  int fd_ = -1;         // buffered: the resume scan, truncation, fsync; holds the flock
  bool force_ = false;
  int direct_fd_ = -1;  // the same file with O_DIRECT for chunk writes, or -1
  std::unique_ptr<WriteBehind> behind_;  // writes to direct_fd_ or fd_; stopped before they close
  std::vector<bool> present_;  // per chunk: verified by open() or written since
  std::uint64_t reused_bytes_ = 0;
};

}  // namespace p2p::client
