// Protocol limits: the bounds every receiver enforces on external input.
// docs/protocol.md "Limits" is the normative copy; change it there first.
#pragma once

#include <cstddef>
#include <cstdint>

namespace p2p::limits {

// Default chunk size. 1 MiB: ZeroMQ moves 1 MiB messages ~1.5x faster than
// 256 KiB here (shared/notes/ceilings.md), and per-chunk costs (a round trip,
// an fsync, a file) are paid 4x less often. BEP 3 once used 1 MiB too.
inline constexpr std::uint32_t kDefaultChunkSize = 1u << 20;
// Smallest and largest chunk a manifest may declare; bounds per-message memory.
inline constexpr std::uint32_t kMinChunkSize = 16u << 10;  // BEP 52's block
inline constexpr std::uint32_t kMaxChunkSize = 4u << 20;

// Control messages (tracker traffic, manifests). A manifest costs 32 B per
// chunk, so 16 MiB carries a ~500 GiB file at 1 MiB chunks.
inline constexpr std::int64_t kMaxControlMessage = 16 << 20;
// Data-plane messages: one chunk plus its header and body.
inline constexpr std::int64_t kMaxDataMessage = kMaxChunkSize + (64 << 10);
// The chain forward list or a manifest body travels in the data plane too.
inline constexpr std::int64_t kMaxDataPlaneMessage = kMaxControlMessage + kMaxDataMessage;

// msgpack decode bounds (besides "no more elements than bytes received").
inline constexpr std::size_t kMaxStringBytes = 4096;  // names, endpoints, messages
inline constexpr std::size_t kMaxBinBytes = 64;       // hashes; chunk bytes travel raw
inline constexpr std::size_t kMaxDepth = 8;           // our deepest message is 4

// Frames after the routing envelope: header, body and an optional data frame.
inline constexpr std::size_t kMaxFrames = 3;
// Routing frames a ROUTER may see before the empty delimiter (one per hop).
inline constexpr std::size_t kMaxRoutingFrames = 4;

inline constexpr std::size_t kMaxNameBytes = 255;  // like a file name on most file systems
inline constexpr std::uint32_t kMaxReplicas = 16;  // placement beyond this is a typo
inline constexpr std::size_t kMaxAnnounceBatch = 256;  // manifests per ANNOUNCE message
// Peer ids a PLACE may ask to leave out: a put adds one a failed attempt, and
// its retry budget (10 s, pauses up to 1 s) makes a few dozen attempts at most.
inline constexpr std::size_t kMaxAvoidedPeers = 64;

// Chunks one file may have: its manifest (34 bytes a chunk hash) must fit one
// ANNOUNCE on a control link, with 64 KiB left for every other field. 491,520
// chunks: 480 GiB at 1 MiB chunks, 1.9 TiB at the largest.
inline constexpr std::uint64_t kMaxChunksPerFile = (kMaxControlMessage - (64 << 10)) / 34;

}  // namespace p2p::limits
