// TrackerOptions: everything p2p-tracker can be told, with the defaults the
// CLI shows. Tests build one directly and shrink the timeouts.
// REQUIRES (main.cpp checks the flags): heartbeat >= 1 ms, liveness >= 1,
// 1 <= replicas <= limits::kMaxReplicas, max_copies_per_peer >= 1,
// repair_grace >= 0, copy_timeout >= 1 ms, rejoin_window >= 0 if set.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace p2p::tracker {

struct TrackerOptions {
  // Loopback by default: the tracker has no authentication, so exposing it
  // is an explicit choice. ":0" (or ":*") picks a free port.
  std::string endpoint = "tcp://127.0.0.1:5555";
  // Heartbeat interval on every service link; must match the peers' value
  // (MDP's known weakness: mismatched rates cause false deaths).
  std::chrono::milliseconds heartbeat{1000};
  // A service is dead after liveness x heartbeat of silence. 3 is the
  // zguide's Paranoid Pirate / Majordomo value ("3-5 is reasonable").
  int liveness = 3;
  // Wanted replicas k when a request or manifest says 0. 3 survives two
  // simultaneous peer losses, the usual storage-system default.
  std::uint32_t replicas = 3;
  // docs/replication.md "Two clocks": after a holder dies, wait this long
  // before copying its files again, so a quick restart starts no copy storm.
  // Also how long a rejoined peer must stay before surplus copies are trimmed,
  // safe mode after the tracker starts (it ends once the index is complete,
  // and goes on for the rest of the rejoin window and while announcements
  // keep coming: Broker::settle_safe_mode), and how long replication waits for
  // the next batch of a peer still announcing (announcement_in_progress).
  // Seconds, not HDFS's minutes: few peers, and copies run at loopback or LAN speed.
  std::chrono::milliseconds repair_grace{5000};
  // Copies one peer receives at once; HDFS's replication.max-streams is 2.
  // Keeps a repair wave from saturating one peer's disk and link.
  std::uint32_t max_copies_per_peer = 2;
  // A copy not confirmed after this long is forgotten and planned again.
  // 10 minutes: a multi-GiB file at LAN speed, with room to spare.
  std::chrono::milliseconds copy_timeout{600000};
  // After the tracker starts, its index counts as incomplete for this long:
  // names it does not know are answered `announcing` ("ask again"), not
  // `not_found`, and LIST/STAT/STATUS say so. The peers that were running
  // rejoin a restarted tracker within one liveness window (docs/protocol.md
  // 5.1, 5.2). Empty: expiry(). 0 when no peer can be rejoining (a fresh
  // cluster whose peers are started after the tracker).
  std::optional<std::chrono::milliseconds> rejoin_window;
  // Files announced during one wait for announcements (after safe mode)
  // beyond which the index stops keeping its short files in order until the
  // wait ends, when they are more than a quarter of the files indexed too:
  // the one sort at the end (~0.3 s at 1,000,000 files) must cost less than
  // what it saves (up to four ordered-set moves a file announced). Tests
  // shrink it.
  std::uint64_t unsorted_announcement = 65536;

  std::chrono::milliseconds expiry() const { return heartbeat * liveness; }
  std::chrono::milliseconds rejoin() const { return rejoin_window.value_or(expiry()); }
};

}  // namespace p2p::tracker
