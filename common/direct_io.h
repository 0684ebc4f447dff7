// Direct I/O: chunk files of kDirectMinBytes or more written (and, except
// when served to a get, read) with O_DIRECT, bypassing the page cache.
//
// Why: on this class of VM the first touch of page-cache memory is the most
// expensive thing a transfer does. `dd bs=1M count=1024` into a new file takes
// 2.96 s when the kernel must hand out pages the host has not backed recently,
// 0.21 s when it reuses just-freed ones, and 0.5 s with O_DIRECT whatever the
// history (docs/performance.md). A put writes k copies of a file and a get one
// more, so every byte of a large file a peer stores or a get outputs goes here
// (small files do not: see kDirectMinBytes).
//
// O_DIRECT needs the buffer, the file offset and the length aligned to the
// device's logical block. Bytes arrive in ZeroMQ messages whose data is not
// aligned, so they are copied into an aligned bounce buffer first (a copy
// into memory that stays warm: ~0.1 s per GiB) and the last block of a write
// is padded with zeros: the caller truncates the file to its real size.
// File systems without O_DIRECT (tmpfs) fall back to ordinary writes.
//
// Reads go into a buffer that the ZeroMQ message then owns (zero copy; it
// comes from and goes back to ChunkBufferPool). Reads that check what is on
// disk (a peer's start, a staged chunk) bypass the page cache: they would
// only fill it. A chunk served to a get goes through it (read_cached_from):
// in an A/B on 2026-12-07 a cold get from 3 holders ran 10% faster that way
// (the kernel's readahead; 405-453 -> 463-516 MB/s) and a second get of the
// same file 27% faster (440-493 -> 502-607), from chunks still in memory,
// which is how a popular file should be served (docs/performance.md).
//
// Thread affinity: see each class; the read functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "common/status.h"

namespace p2p {

// Files smaller than this are written and read through the page cache. The
// first-touch cost above is per byte (~2.8 ns/B at worst), so for a small
// file it is less than O_DIRECT's trip to the device, and a cached small
// chunk reads in ~3 us where O_DIRECT takes 35-40 us every time. Measured on
// this VM (2,000 new files each): 4 KiB write 11 / 39 us, read 2.6 / 35 us
// buffered / direct; 64 KiB 167 / 230 and 12 / 93 us; 256 KiB 624 / 546 and
// 45 / 262 us, where writes turn in O_DIRECT's favour.
inline constexpr std::size_t kDirectMinBytes = 64 * 1024;

// Alignment of O_DIRECT buffers, offsets and lengths: the page size, which
// covers every logical block size up to 4 KiB (this machine's disk: 512 B).
inline constexpr std::size_t kDirectAlignment = 4096;

// Opens `path` with `flags`, then turns O_DIRECT on when `want_direct` and the
// file system has it. Returns the fd (or -1 with errno set, as open(2)) and
// sets *direct to whether O_DIRECT is on.
int open_maybe_direct(const std::string& path, int flags, unsigned mode, bool want_direct, bool* direct);

// `size` rounded up to whole O_DIRECT blocks (at least one).
inline std::size_t direct_padded(std::size_t size) {
  return size == 0 ? kDirectAlignment : (size + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment;
}

// True when a write at `offset` can go through O_DIRECT.
inline bool direct_aligned(std::uint64_t offset) { return offset % kDirectAlignment == 0; }

// The whole file at `path`, of at most `max_size` bytes, in a message of
// exactly its size, read with O_DIRECT when it has kDirectMinBytes or more
// and the file system allows it.
// kIo naming `path` on errors, a file larger than max_size, or one that
// changes size while read.
Result<zmq::message_t> read_direct(const std::string& path, std::size_t max_size);
// As read_direct, from `fd`, open for reading on `path` (named in errors).
// Takes `fd`: closes it on every path.
Result<zmq::message_t> read_direct_from(int fd, const std::string& path, std::size_t max_size);
// As read_direct and read_direct_from, through the page cache: what is
// cached is served from memory, and what is read stays cached for the next
// reader.
Result<zmq::message_t> read_cached(const std::string& path, std::size_t max_size);
Result<zmq::message_t> read_cached_from(int fd, const std::string& path, std::size_t max_size);

// One block of bytes on its way to a file: an aligned buffer, reused.
// Thread-compatible: one thread at a time (a write-behind queue hands it over).
class DirectBuffer {
 public:
  DirectBuffer() = default;
  DirectBuffer(const DirectBuffer&) = delete;
  DirectBuffer& operator=(const DirectBuffer&) = delete;
  DirectBuffer(DirectBuffer&&) = default;
  DirectBuffer& operator=(DirectBuffer&&) = default;

  // Copies [data, data + size) in, zero-padded to a multiple of
  // kDirectAlignment (the buffer grows as needed). kInternal when out of memory.
  Status assign(const void* data, std::size_t size);
  std::size_t size() const { return size_; }

  // Writes the bytes at `offset` of `fd`. With `direct` (fd opened with
  // O_DIRECT; REQUIRES direct_aligned(offset)) the padded length is written:
  // the file may end past offset + size() until the caller truncates it.
  // Without `direct`, exactly size() bytes. kIo (kNoSpace for ENOSPC) naming `path`.
  Status write_at(int fd, bool direct, std::uint64_t offset, const std::string& path) const;

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> buffer_;  // kDirectAlignment-aligned, capacity_ bytes
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

// pwrite through a DirectBuffer when `direct`, straight from `data` otherwise.
// Thread affinity: one DirectWriter per thread (it owns its buffer).
class DirectWriter {
 public:
  // As DirectBuffer::write_at for [data, data + size).
  Status pwrite(int fd, bool direct, const void* data, std::size_t size, std::uint64_t offset, const std::string& path);

 private:
  DirectBuffer buffer_;
};

}  // namespace p2p
