// fetch_chunks: downloads a set of chunks of a manifest from several holders
// at once and hands each verified chunk to a ChunkSink.
//
// Per holder: one DEALER with up to `window` GET_CHUNK requests in flight,
// replies matched by seq (credit-based flow control, zguide ch.7). Every
// chunk's length and SHA-256 are checked before the sink sees a byte.
// - not_found from a holder: that holder lacks that chunk; others may have it.
// - wrong bytes (the chunk's length, not its SHA-256): the holder is told so
//   with CHECK_CHUNK, so it checks its copy from disk, and is dropped as below.
// - any other error, a bad reply, wrong bytes, more than
//   kMaxUnsolicitedReplies replies to no request, no reply for
//   `chunk_timeout`, or its connection closing or refused with requests in
//   flight (the holder exited or was killed): the holder is dropped and its
//   outstanding chunks go back to the others.
// - a chunk in flight for `hedge_after` (or 4x the slowest reply of this
//   fetch, if longer) while another live holder has room and nothing else to
//   ask for: it is asked of that holder too, and of one more each time the
//   latest ask has waited as long, and the first good reply wins
//   (BitTorrent's end game). A holder that hangs with its connection open
//   then costs the fetch about `hedge_after` (n hung holders: n times it),
//   not `chunk_timeout`. A chunk's bytes reach the sink once.
// - a chunk that no live holder can give: kUnavailable naming the first such
//   chunk, with the last holder failure as the reason.
// - the sink's error (e.g. a full disk) stops the fetch and is returned as is.
// - `options.cancelled` returning true stops the fetch with kShuttingDown
//   within kCancelCheckInterval (a peer copying a file is shutting down).
//
// Memory is bounded by holders x window x chunk size: at most that many
// replies are ever in flight, and each is released once written.
//
// Connections: a holder is connected when it is first given a chunk, so a
// file whose chunks fit one holder's window connects to one holder only. By
// default that is a fresh DEALER, closed when the call returns. With
// `options.connections` the DEALERs come from (and go back to) that pool, so consecutive fetches skip the TCP and ZMTP
// handshakes; a holder dropped for a timeout or a protocol error, or left
// with requests in flight, has its connection closed by the pool (Lazy
// Pirate, zguide ch.4), and seqs keep counting per connection so a late
// reply to an earlier fetch is never taken for a current one.
//
// Thread affinity: runs entirely in the calling thread, which creates (or
// acquires from its own pool), uses and closes every socket. The context
// must outlive the call. Never throws out of the call (sink and progress
// callbacks must not throw either).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/disconnect_watch.h"
#include "common/manifest.h"
#include "common/protocol.h"
#include "common/status.h"

namespace p2p {

// Where verified chunks go. Called only from the fetching thread.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // `data` holds exactly the bytes of chunk `index`, already verified.
  // `data` is only valid during the call.
  virtual Status write(std::uint64_t index, const void* data, std::size_t size) = 0;
};

// One DEALER to a holder's endpoint and the next seq to use on it. Seqs are
// per connection, never reused while it is open. `watch`, when set, reports
// the DEALER's connection closing or failing: its requests are then lost.
struct HolderConnection {
  zmq::socket_t socket;
  std::uint64_t next_seq = 1;
  DisconnectWatch watch;  // after `socket`: destroyed while it is still open

  // A DEALER connecting to `endpoint`, watched when it is tcp:// (inproc
  // reports nothing). Throws zmq::error_t.
  static HolderConnection open(zmq::context_t& ctx, const std::string& endpoint);
};

// Where a fetch gets its holder connections (client/session.h keeps a pool).
// Used only from the fetching thread.
class ConnectionSource {
 public:
  virtual ~ConnectionSource() = default;
  // A connected DEALER to `endpoint`, valid until release(endpoint, ...).
  virtual Result<HolderConnection*> acquire(const std::string& endpoint) = 0;
  // The fetch is done with `endpoint`. `reusable` false: a request may still
  // be unanswered or the holder failed; the connection must be closed.
  virtual void release(const std::string& endpoint, bool reusable) = 0;
};

struct FetchOptions {
  // Requests in flight per holder: enough to hide a loopback round trip
  // behind transfers (zguide ch.7 needed 3-5 at 250 KB; chunks are 1 MiB).
  std::size_t window = 4;
  // A holder with requests in flight that sends nothing for this long is dropped.
  std::chrono::milliseconds chunk_timeout{10000};
  // A request this old is also sent to an idle holder (see above). 1 s is
  // ~100x a 1 MiB chunk's round trip on loopback with a full window, so a
  // healthy holder is never doubled; on a slow link the 4x-slowest-reply
  // rule raises it. At or above chunk_timeout: never (the holder is dropped).
  std::chrono::milliseconds hedge_after{1000};
  // Polled between waits; null = never cancelled. Must be cheap and thread-safe
  // to call from the fetching thread (e.g. reads an atomic stop flag).
  std::function<bool()> cancelled;
  // Null: a fresh DEALER per holder, closed at the end. Must outlive the call.
  ConnectionSource* connections = nullptr;
};

// Replies a holder may send to no request in flight before it is dropped. A
// pooled connection is reused only with nothing in flight, so a well-behaved
// holder sends none; the bound keeps a misbehaving one from holding the fetch.
inline constexpr std::size_t kMaxUnsolicitedReplies = 16;

// How long a holder connection closed right after a CHECK_CHUNK keeps trying
// to send it: the chunk just came over that connection, so it is up, and a
// report needs one write. Also the longest such a report can hold back the
// context's termination at exit.
inline constexpr std::chrono::milliseconds kCheckChunkLinger{100};

// The longest a fetch with `cancelled` set waits before asking it again:
// bounds how long a stopping peer waits for a copy to give up.
inline constexpr std::chrono::milliseconds kCancelCheckInterval{100};

// Called after each chunk is written, with its size in bytes.
using FetchProgress = std::function<void(std::uint64_t bytes)>;

// Fetches chunks `indexes` of `manifest` from `holders`.
// REQUIRES: manifest.validate() is OK and every index < manifest.chunk_count().
Status fetch_chunks(zmq::context_t& ctx, const Manifest& manifest, const std::vector<std::uint64_t>& indexes,
                    const std::vector<proto::HolderInfo>& holders, const FetchOptions& options, ChunkSink& sink,
                    const FetchProgress& progress = {});

}  // namespace p2p
