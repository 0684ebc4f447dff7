// p2p-peer's command-line options, their defaults and why.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/chunk_fetcher.h"
#include "services/peer/scrubber.h"

namespace p2p::peer {

// Workers block on fsync and on the next peer of a write pipeline, so fewer
// than 4 would starve a pipeline of 3 replicas: max(4, cores).
unsigned default_workers();

struct PeerOptions {
  std::string tracker = "tcp://127.0.0.1:5555";  // the brief's default tracker
  std::string listen = "tcp://127.0.0.1:0";      // any free port on loopback
  std::string data_dir;                          // required: where chunks live
  std::string advertise;                         // empty: the bound endpoint
  unsigned workers = default_workers();
  // Bytes of chunks this peer stores; 0 = free space of the data dir's file
  // system at start plus bytes already stored.
  std::uint64_t capacity = 0;
  std::chrono::milliseconds heartbeat{1000};  // matches the tracker's default
  int liveness = 3;                           // 3-5 is the zguide's advice
  // How long a pipeline step waits for the next peer: a 4 MiB chunk with an
  // fsync per hop fits easily; a dead next peer is noticed in this time.
  std::chrono::milliseconds forward_timeout{10000};
  // A copy's wait for one chunk from a source before that source is dropped,
  // and how long an unanswered chunk waits before the next source is also
  // asked (common/chunk_fetcher.h): the client's defaults, for the same reasons.
  std::chrono::milliseconds chunk_timeout{FetchOptions{}.chunk_timeout};
  std::chrono::milliseconds hedge_after{FetchOptions{}.hedge_after};
  // REPLICATE copies this peer runs at once (--max-copies): 2, like HDFS's
  // dfs.namenode.replication.max-streams, so copies never crowd out gets.
  unsigned max_copies = 2;
  // The background re-read of every stored chunk (services/peer/scrubber.h
  // says why these defaults): bytes a second (0: off) and pass interval.
  std::uint64_t scrub_rate = ScrubOptions{}.bytes_per_second;
  std::chrono::milliseconds scrub_interval = ScrubOptions{}.interval;
  std::string log_level = "info";
};

// "4096", "64K", "10M", "2G", "1T" (powers of 1024; case-insensitive, an
// optional trailing "B" or "iB" allowed); nullopt when malformed or overflowing.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

// True when `endpoint` binds every interface (tcp://*:N, tcp://0.0.0.0:N,
// tcp://[::]:N): such an address cannot be handed to other peers.
bool is_wildcard_endpoint(std::string_view endpoint);

}  // namespace p2p::peer
