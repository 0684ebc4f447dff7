// OutputFile: where `get` writes, as a ChunkSink.
//
// Bytes go to OUT.part and only verified chunks are ever written there, so a
// .part left by an interrupted get is resumed: open() hashes every chunk
// already in it and keeps those that match the manifest. finish() makes the
// file durable (fsync) and renames OUT.part to OUT.
//
// Chunks are written behind the fetch (client/write_behind.h), through
// O_DIRECT when the chunk size is a multiple of kDirectAlignment, the file
// has at least kDirectMinBytes and the file system allows it
// (common/direct_io.h: on this VM it makes a 1 GiB get ~2.5 s faster the
// first time); the last chunk is padded and finish() truncates the file to
// its size. A write error may surface one or more
// chunks later, and at the latest from finish().
//
// Errors are kIo with the path and the OS reason (the CLI exits 8).
// Ownership: owns the .part descriptor. Thread affinity: one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/chunk_fetcher.h"
#include "client/write_behind.h"
#include "common/manifest.h"
#include "common/status.h"

namespace p2p::client {

class OutputFile final : public ChunkSink {
 public:
  // Refuses an existing `path` unless `force` (and a directory always),
  // then opens or creates `path`.part and keeps its verified chunks.
  // REQUIRES: manifest.validate() is OK; `manifest` outlives the OutputFile.
  static Result<std::unique_ptr<OutputFile>> open(const std::string& path, const Manifest& manifest, bool force);

  ~OutputFile() override;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  std::string part_path() const { return path_ + ".part"; }
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
  // rename OUT.part -> OUT, fsync the directory.
  Status finish();

 private:
  OutputFile(std::string path, const Manifest& manifest, int fd) : path_(std::move(path)), manifest_(manifest), fd_(fd) {}
  Status scan_existing(std::uint64_t part_size);

  std::string path_;
  const Manifest& manifest_;
  int fd_ = -1;         // buffered: the resume scan, truncation, fsync
  int direct_fd_ = -1;  // the same file with O_DIRECT for chunk writes, or -1
  std::unique_ptr<WriteBehind> behind_;  // writes to direct_fd_ or fd_; stopped before they close
  std::vector<bool> present_;  // per chunk: verified by open() or written since
  std::uint64_t reused_bytes_ = 0;
};

}  // namespace p2p::client
