// The p2p-share wire protocol, version 1: commands and message bodies.
//
// docs/protocol.md is the specification; this header mirrors it. Rules:
// - Every message is [routing...][empty][header][body][data?] (see codec.h).
// - Bodies are msgpack arrays (MSGPACK_DEFINE). Structs only grow at the end,
//   and new fields have defaults, so an older sender's shorter array decodes.
// - Command numbers and error codes are never reused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "common/hash.h"
#include "common/manifest.h"
#include "common/status.h"

namespace p2p::proto {

inline constexpr std::uint8_t kVersion = 1;

enum class Command : std::uint8_t {
  // service (peer) -> tracker; MDP-like worker side
  kReady = 1,       // ReadyBody; no reply
  kHeartbeat = 2,   // HeartbeatBody; both directions; no reply
  kDisconnect = 3,  // Empty; both directions; no reply
  kAnnounce = 4,    // AnnounceBody; no reply
  kReplicated = 5,  // ReplicatedBody (replication -> tracker); no reply
  kRemoved = 6,     // FileList (storage -> tracker): files this peer no longer holds; no reply
  kDrain = 7,       // Empty; storage -> tracker: "I am leaving, move my files";
                    //        tracker -> storage: "start leaving" (p2p leave); no reply
  // client -> tracker; request/reply
  kPlace = 10,    // PlaceRequest -> PlaceReply
  kPublish = 11,  // PublishRequest -> PublishReply
  kLocate = 12,   // QueryRequest -> LocateReply
  kSearch = 13,   // SearchRequest -> ListReply
  kList = 14,     // Empty -> ListReply
  kStat = 15,     // QueryRequest -> StatReply
  kPeers = 16,    // Empty -> PeersReply
  kStatus = 17,   // Empty -> StatusReply
  kLeave = 18,    // QueryRequest{peer_id} -> Empty: ask a peer to drain and leave
  // tracker -> service
  kReplicate = 20,  // ReplicateOrder (to a replication service); answered by kReplicated
  kDelete = 21,     // FileRef (to a storage service): drop this replica; answered by kRemoved
  kRelease = 22,    // Empty (to a draining storage service): every file is safe elsewhere; exit
  // data plane: client or peer -> peer transfer service; request/reply
  kGetChunk = 30,     // ChunkRef -> ChunkRef + data frame
  kPutChunk = 31,     // PutChunkRequest + data frame -> Empty
  kCommit = 32,       // CommitRequest -> CommitReply
  kGetManifest = 33,  // FileRef -> ManifestReply
  kPing = 34,         // Empty -> Empty
  kCheckChunk = 35,   // ChunkRef -> Empty: the bytes you sent for this chunk were wrong; check it
  // replies
  kOk = 100,     // body is the reply struct of the request
  kError = 101,  // ErrorBody
};

const char* command_name(Command c);
bool is_known_command(std::uint8_t c);

// Services a peer runs; each connects its own DEALER to the tracker.
inline constexpr const char* kServiceStorage = "storage";
inline constexpr const char* kServiceTransfer = "transfer";
inline constexpr const char* kServiceReplication = "replication";

struct Empty {
  MSGPACK_DEFINE()
};

struct ErrorBody {
  std::uint16_t code = 0;  // ErrorCode
  std::string message;     // for people; never parsed
  std::string failed_endpoint;  // forward_failed: the pipeline's peer that failed (Status)
  MSGPACK_DEFINE(code, message, failed_endpoint)
};

// A peer as clients and other peers reach it.
struct HolderInfo {
  std::string peer_id;
  std::string endpoint;  // data endpoint (the transfer service's ROUTER)
  MSGPACK_DEFINE(peer_id, endpoint)
};

struct ReadyBody {
  std::string peer_id;   // stable across restarts (DATA_DIR/peer_id)
  std::string service;   // kServiceStorage | kServiceTransfer | kServiceReplication
  std::string endpoint;  // advertised data endpoint
  std::uint64_t capacity = 0;    // bytes this peer may store
  std::uint64_t free_bytes = 0;  // capacity minus stored bytes
  // Random, drawn once per peer process, never 0 (0: an older peer): the
  // same incarnation on a new connection is a reconnect, not a restart.
  std::uint64_t incarnation = 0;
  MSGPACK_DEFINE(peer_id, service, endpoint, capacity, free_bytes, incarnation)
};

struct HeartbeatBody {
  std::uint64_t free_bytes = 0;  // from storage; 0 and ignored from others
  std::uint32_t copies = 0;      // from replication: copy streams running now
  MSGPACK_DEFINE(free_bytes, copies)
};

// "This peer holds every chunk of these files on disk."
struct AnnounceBody {
  std::vector<Manifest> files;  // at most limits::kMaxAnnounceBatch
  bool complete = false;        // the last batch of the announcement after a READY, all sent
  MSGPACK_DEFINE(files, complete)
};

struct PlaceRequest {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t replicas = 0;      // 0: the tracker's default
  std::vector<std::string> avoid;  // peer ids that failed an earlier attempt (limits::kMaxAvoidedPeers)
  MSGPACK_DEFINE(name, size, replicas, avoid)
};

struct PlaceReply {
  std::vector<HolderInfo> peers;  // write pipeline order, at most `replicas`
  bool exists = false;            // the name is already in the index
  Hash existing_file_id;          // valid when exists
  std::uint32_t replicas = 0;     // the wanted k the tracker settled on
  MSGPACK_DEFINE(peers, exists, existing_file_id, replicas)
};

struct PublishRequest {
  Manifest manifest;
  std::vector<std::string> holders;  // peer ids that committed the file
  bool force = false;                // replace a different file of the same name
  MSGPACK_DEFINE(manifest, holders, force)
};

struct PublishReply {
  Hash file_id;
  MSGPACK_DEFINE(file_id)
};

struct QueryRequest {
  std::string query;  // a name, or a 64-hex-digit file id
  MSGPACK_DEFINE(query)
};

struct SearchRequest {
  std::string pattern;  // case-insensitive substring, or a glob with * and ?
  MSGPACK_DEFINE(pattern)
};

struct FileSummary {
  Hash file_id;
  std::string name;
  std::uint64_t size = 0;
  std::uint64_t chunk_count = 0;
  std::uint32_t replicas = 0;  // wanted
  std::uint32_t holders = 0;   // live
  MSGPACK_DEFINE(file_id, name, size, chunk_count, replicas, holders)
};

// Whether the tracker's index may still lack files that exist: its state is
// soft, rebuilt from the peers' announcements after it starts (protocol.md 5.2).
struct IndexState {
  std::uint32_t announcing = 0;      // storage services that sent READY but not their complete batch
  std::uint64_t rejoin_left_ms = 0;  // what remains of the rejoin window after the tracker's start
  // Files still listing a peer that departed: the tracker takes it off them
  // in steps (5.1), and STATUS's counts include those holdings until then.
  // Not part of complete(): no file is missing, only a holder is left over.
  std::uint64_t departed_holdings = 0;
  bool complete() const { return announcing == 0 && rejoin_left_ms == 0; }
  MSGPACK_DEFINE(announcing, rejoin_left_ms, departed_holdings)
};

struct ListReply {
  std::vector<FileSummary> files;  // sorted by name
  IndexState index;                // absent from an older tracker: complete
  MSGPACK_DEFINE(files, index)
};

struct LocateReply {
  Hash file_id;
  Manifest manifest;
  std::vector<HolderInfo> holders;  // live holders only; never empty on kOk
  MSGPACK_DEFINE(file_id, manifest, holders)
};

struct StatReply {
  FileSummary file;
  std::vector<HolderInfo> holders;
  IndexState index;  // absent from an older tracker: complete
  MSGPACK_DEFINE(file, holders, index)
};

struct PeerSummary {
  std::string peer_id;
  std::string endpoint;
  std::uint64_t capacity = 0;
  std::uint64_t free_bytes = 0;
  std::uint32_t files = 0;
  std::uint64_t last_seen_ms = 0;  // milliseconds since the last message
  std::vector<std::string> services;
  bool draining = false;     // leaving: a source for copies, not a target
  std::uint32_t copies = 0;  // copies this peer is receiving now
  MSGPACK_DEFINE(peer_id, endpoint, capacity, free_bytes, files, last_seen_ms, services, draining, copies)
};

struct PeersReply {
  std::vector<PeerSummary> peers;
  MSGPACK_DEFINE(peers)
};

struct StatusReply {
  std::uint32_t peers = 0;
  std::uint32_t files = 0;
  std::uint64_t bytes = 0;         // logical bytes of all files
  std::uint64_t stored_bytes = 0;  // bytes times live holders
  std::uint64_t capacity = 0;
  std::uint64_t free_bytes = 0;
  std::uint32_t under_replicated = 0;  // files with fewer safe holders than min(k, live non-draining peers)
  std::uint32_t unavailable = 0;       // files with no live holder
  std::uint32_t copies = 0;            // REPLICATE orders in progress
  std::uint32_t draining = 0;          // peers draining before they leave
  IndexState index;                    // incomplete: the counts above lack files not announced yet
  MSGPACK_DEFINE(peers, files, bytes, stored_bytes, capacity, free_bytes, under_replicated, unavailable, copies,
                 draining, index)
};

struct ReplicateOrder {
  Manifest manifest;
  std::vector<HolderInfo> sources;
  MSGPACK_DEFINE(manifest, sources)
};

struct ReplicatedBody {
  Hash file_id;
  std::uint16_t code = 0;  // ErrorCode; 0 = the copy is on disk and announced
  std::string message;
  MSGPACK_DEFINE(file_id, code, message)
};

struct ChunkRef {
  Hash hash;
  MSGPACK_DEFINE(hash)
};

struct PutChunkRequest {
  Hash hash;
  std::vector<std::string> forward;  // endpoints still to write to, in order
  MSGPACK_DEFINE(hash, forward)
};

struct CommitRequest {
  Manifest manifest;
  std::vector<std::string> forward;
  MSGPACK_DEFINE(manifest, forward)
};

struct CommitReply {
  Hash file_id;
  std::vector<std::string> peer_ids;  // every peer of the pipeline that committed
  MSGPACK_DEFINE(file_id, peer_ids)
};

struct FileRef {
  Hash file_id;
  MSGPACK_DEFINE(file_id)
};

struct FileList {
  std::vector<Hash> file_ids;
  MSGPACK_DEFINE(file_ids)
};

struct ManifestReply {
  Manifest manifest;
  MSGPACK_DEFINE(manifest)
};

}  // namespace p2p::proto
