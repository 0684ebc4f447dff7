// ChunkStore: a peer's content-addressed chunks and the manifests it holds,
// on disk under one data directory:
//   DIR/chunks/<first 2 hex>/<64 hex>   chunk bytes, named by their SHA-256
//   DIR/manifests/<file id hex>         msgpack Manifest
//   DIR/tmp/                            files being written; emptied by load()
// Every file is written to tmp/ and renamed into place, so a crash leaves
// either the whole file or nothing under its final name (load() re-hashes
// chunks, so a torn one is dropped). Durability is per file, not per chunk:
// chunks are written without fsync (with O_DIRECT from 64 KiB). put_manifest()
// writes the manifest to tmp/, syncs the file system (syncfs: the chunks and
// the manifest's bytes), renames the manifest into place and fsyncs its
// directory; commits running at once share each of those two flushes. Two
// fsyncs per chunk made a 1 GiB put at k=3 take 4.0-4.3 s against 2.6 s with
// one sync per file (docs/performance.md). A manifest on disk therefore never
// names a chunk a crash could lose.
//
// Thread-safety: every method may be called from any thread at once (transfer
// workers store and read concurrently). A mutex guards the in-memory index;
// disk I/O happens outside it. Capacity is reserved under the mutex before a
// write, so concurrent puts never overshoot it.
// Lifetime: load() once before any other call; the object must outlive all
// threads that use it. One process per directory (nothing locks it).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "common/hash.h"
#include "common/manifest.h"
#include "common/status.h"
#include "common/sync_group.h"

namespace p2p {

class ChunkStore {
 public:
  // Makes every file written so far under `dir` durable. put_manifest runs
  // it once per commit, shared by the commits running at once, between its
  // check of the manifest's chunks and the manifest's indexing.
  using FileSystemSync = std::function<Status(const std::filesystem::path& dir)>;

  // capacity: bytes of chunks this store may hold; 0 = decided by load():
  // the file system's free space plus the bytes already stored.
  // sync: empty = syncfs of dir's file system. Tests pass one that waits, to
  // hold a commit where a scrub or a removal meets it.
  ChunkStore(std::filesystem::path dir, std::uint64_t capacity, FileSystemSync sync = {});
  ChunkStore(const ChunkStore&) = delete;
  ChunkStore& operator=(const ChunkStore&) = delete;

  struct LoadReport {
    std::uint64_t chunks = 0;                 // kept
    std::vector<Hash> dropped_chunks;         // bytes did not match the name; deleted
    std::uint64_t manifests = 0;              // kept
    std::uint64_t dropped_manifests = 0;      // undecodable or invalid; deleted
    std::vector<Hash> incomplete_manifests;   // kept, but some chunk is missing
    std::uint64_t orphan_chunks = 0;          // in no manifest (an interrupted put or copy); deleted
    std::uint64_t orphan_bytes = 0;
  };
  // Creates the layout, empties tmp/, re-hashes every chunk, loads the
  // manifests and deletes chunks no manifest uses (left by a put or copy that
  // was interrupted: at load no write of this process can be in progress). kIo when the directory cannot be created or read.
  Result<LoadReport> load();

  enum class Verify { kYes, kAlreadyVerified };
  // Stores a chunk (durable once a manifest is put after it). kBadChunk if the bytes do not hash to `hash`,
  // kNoSpace beyond capacity (or a full disk), kIo on other disk errors.
  // A chunk already present is not rewritten (OK).
  Status put_chunk(const Hash& hash, const void* data, std::size_t size, Verify verify = Verify::kYes);
  // A chunk written to tmp/ but not yet under its name: a write
  // pipeline's intermediate peer keeps it only once the tail of the pipeline
  // has verified the same bytes (services/peer/transfer_worker.cpp). Its
  // bytes stay reserved against the capacity until keep() or discard().
  // A StagedChunk neither kept nor discarded leaks a tmp file until the next
  // load() (and its reservation until the process exits); keep or discard once.
  struct StagedChunk {
    Hash hash;
    std::size_t size = 0;
    std::filesystem::path tmp;
    bool written = false;  // false: the chunk was already here, nothing to keep
  };
  // Writes the chunk to tmp/, unverified. kNoSpace beyond
  // capacity, kBadChunk above the maximum chunk size, kIo on disk errors.
  Result<StagedChunk> stage_chunk(const Hash& hash, const void* data, std::size_t size);
  // Renames a staged chunk into place: from now on it is served and counted.
  Status keep(StagedChunk& staged);
  // Deletes a staged chunk and releases its reservation.
  void discard(StagedChunk& staged);
  // keep() if the staged bytes, read back from tmp/, hash to staged.hash;
  // else discard() and kBadChunk. For a pipeline peer that got no verdict
  // from the tail: it keeps no bytes in memory while it waits.
  Status keep_if_intact(StagedChunk& staged);

  // The chunk's bytes in a message of exactly its size; kNotFound if absent,
  // also when its last file is being removed at the same time (never kIo for
  // that: a holder answering kIo is dropped from the whole fetch). Read
  // through the page cache: a chunk got again is served from memory.
  // A chunk indexed here whose file is gone from disk (deleted behind the
  // store's back) is kNotFound too: it leaves the index, and the files that
  // used it become lost files (take_lost_file).
  Result<zmq::message_t> read_chunk(const Hash& hash);
  bool has_chunk(const Hash& hash) const;
  // One file made incomplete here by a chunk read_chunk found gone or
  // scrub_chunk dropped, oldest first, each once; nullopt when there is none.
  // Its manifest stays (as load() keeps an incomplete one): the file is no
  // longer held in full, so the owner tells the tracker, which copies it
  // again from other holders.
  std::optional<Hash> take_lost_file();

  // A background scrub's check of one chunk against its name: its bytes read
  // as load() reads them (read_direct: from kDirectMinBytes with O_DIRECT,
  // the disk's copy and not a cached page) and hashed. A chunk whose bytes do
  // not match, or whose file is gone, is forgotten as read_chunk forgets a
  // gone one (its files become lost files), and its file deleted. A chunk
  // whose file was replaced while it was read, or that a commit in progress
  // uses, is left for the next pass.
  struct ScrubOutcome {
    std::size_t bytes = 0;  // read and hashed; 0 when the chunk is no longer stored
    bool dropped = false;   // corrupt or gone: forgotten, its files lost
  };
  // kCachedPagesDropped: the chunk's cached pages are dropped before it is
  // read, for a chunk someone got wrong bytes of (CHECK_CHUNK): below
  // kDirectMinBytes the read goes through the page cache, and a page that
  // went bad in memory must not be what is checked, nor served again.
  enum class ScrubRead { kFromDisk, kCachedPagesDropped };
  // kIo when the chunk cannot be read (kept: the error may pass).
  Result<ScrubOutcome> scrub_chunk(const Hash& hash, ScrubRead how = ScrubRead::kFromDisk);
  // The hash of every stored chunk, for a scrub pass.
  std::vector<Hash> chunk_hashes() const;

  // Makes every chunk written so far durable with the manifest, then names
  // the manifest by its file id, durably. kMissingChunks when a chunk of it
  // is not here (never fetched, or removed with another file since the
  // caller checked). REQUIRES: manifest.validate().
  Status put_manifest(const Manifest& manifest);
  Result<Manifest> manifest(const Hash& file_id) const;
  // The file id of every stored manifest, complete or not.
  std::vector<Hash> file_ids() const;
  // True when every chunk of `manifest` is here.
  bool complete(const Manifest& manifest) const;
  // Chunks of `manifest` not here, in manifest order (duplicates once).
  std::vector<Hash> missing_chunks(const Manifest& manifest) const;

  struct RemoveReport {
    std::uint64_t chunks = 0;  // chunks deleted (those no other manifest uses)
    std::uint64_t bytes = 0;   // their bytes, no longer counted as stored
    std::uint64_t shared = 0;  // chunks kept because another stored manifest uses them
  };
  // Drops a file this store holds: first its manifest (so a crash in between
  // leaves only unreferenced chunks, never a manifest without its chunks),
  // then every chunk of it that no other stored manifest references.
  // kNotFound when no manifest of `file_id` is stored (nothing changes); kIo
  // when the manifest cannot be unlinked. A chunk that cannot be unlinked is
  // logged and kept. A concurrent put of a chunk being removed may find it
  // present and later miss it at COMMIT (missing_chunks): never wrong bytes.
  // Chunks of a manifest that put_manifest is writing are kept.
  Result<RemoveReport> remove_file(const Hash& file_id);

  std::uint64_t capacity() const;
  std::uint64_t stored_bytes() const;  // bytes of all chunks here
  std::uint64_t free_bytes() const;    // capacity minus stored and reserved bytes
  std::size_t chunk_count() const;
  const std::filesystem::path& dir() const { return dir_; }

  // Where a store rooted at `dir` keeps chunk `hash` (chunks/<2 hex>/<hex>),
  // for tools that read a data dir without opening the store.
  static std::filesystem::path chunk_path_in(const std::filesystem::path& dir, const Hash& hash);

 private:
  std::filesystem::path chunk_path(const Hash& hash) const;
  std::filesystem::path manifest_path(const Hash& file_id) const;
  std::filesystem::path tmp_path();
  // kChunk: through O_DIRECT when it has kDirectMinBytes or more and the file
  // system has it (common/direct_io.h says why); neither the file nor its
  // directory is fsync'ed (its file's COMMIT syncs the file system).
  // kManifest: buffered and synced by data_sync_ before install(), which
  // fsyncs the manifest directory through manifest_dir_sync_.
  enum class FileKind { kChunk, kManifest };
  // Writing a file durably in two halves. Both unlink `tmp` when they fail.
  Status write_tmp(const std::filesystem::path& tmp, const void* data, std::size_t size, FileKind kind);
  Status install(const std::filesystem::path& tmp, const std::filesystem::path& final_path, FileKind kind);
  // put_manifest's disk half: write to tmp/, sync, rename into place.
  Status write_and_install_manifest(const Hash& id, const msgpack::sbuffer& buf);
  // file_system_sync_, or syncfs of the data dir's file system: every file
  // written so far is durable.
  Status sync_chunks();
  void unreserve(std::size_t size);
  Status load_chunks(LoadReport* report);
  using ChunkIndex = std::unordered_map<Hash, std::uint32_t, HashHasher>;  // hash -> size
  // An indexed chunk's file, open for reading (the caller closes it).
  // kNotFound when the chunk is not indexed, or when its file is gone from
  // disk: then *gone is set and the chunk is forgotten (forget_lost_locked).
  Result<int> open_stored_chunk(const Hash& hash, const std::string& path, bool* gone);
  // A chunk found gone or corrupt on disk: out of the index and the stored
  // bytes, and on the list take_lost_file matches to files. REQUIRES: mu_ held.
  void forget_lost_locked(ChunkIndex::iterator chunk);
  Status load_manifests(LoadReport* report);

  const std::filesystem::path dir_;
  const FileSystemSync file_system_sync_;  // empty: syncfs
  mutable std::mutex mu_;
  std::uint64_t capacity_;                                      // guarded by mu_
  ChunkIndex chunks_;                                           // guarded by mu_
  std::map<Hash, Manifest> manifests_;                          // guarded by mu_
  // Manifests in put_manifest between its chunk check and their indexing,
  // owned by their callers: remove_file keeps their chunks.
  std::vector<const Manifest*> pending_;                        // guarded by mu_
  std::uint64_t stored_bytes_ = 0;                              // guarded by mu_
  std::uint64_t reserved_bytes_ = 0;                            // guarded by mu_: puts in progress
  std::uint64_t tmp_counter_ = 0;                               // guarded by mu_
  // Chunks found gone or corrupt on disk, not yet matched to their files.
  std::vector<Hash> lost_chunks_;                               // guarded by mu_
  std::deque<Hash> lost_files_;                                 // guarded by mu_: for take_lost_file
  SyncGroup data_sync_;          // sync_chunks(), shared by the commits running at once
  SyncGroup manifest_dir_sync_;  // fsync of manifests/, shared likewise
};

}  // namespace p2p
