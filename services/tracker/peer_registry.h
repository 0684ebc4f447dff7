// PeerRegistry: the live peers and their services, the tracker's soft state
// about who is out there (docs/protocol.md 5.1).
//
// Every peer service (storage, transfer, replication) registers on its own
// connection with READY; the registry keys services by the ROUTER routing
// key of that connection and groups them by peer id. A service is dead after
// `expiry` (liveness x heartbeat) without a message. A peer is *live* while
// its storage service is registered; its record lasts while any service is.
//
// Time is passed in by the caller (never read from the clock here), so
// expiry is testable without waiting.
//
// Thread affinity: none of its own; the broker thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/protocol.h"
#include "common/sockets.h"
#include "common/status.h"

namespace p2p::tracker {

using TimePoint = Clock::time_point;

// Longest peer id accepted: ids are 16 hex digits today; this leaves room
// without letting one READY bloat every PEERS reply.
inline constexpr std::size_t kMaxPeerIdBytes = 64;

struct ServiceRecord {
  std::string routing;  // routing key of the service's connection
  TimePoint last_seen;  // last message from it
  // The registry's total excused time when last_seen was set: the excused time
  // since then is added to the service's window (see PeerRegistry::excuse).
  Clock::duration excused_at{};
  std::uint64_t incarnation = 0;  // from its READY; 0: not sent
};

struct PeerRecord {
  std::string peer_id;
  std::string endpoint;  // advertised data endpoint (from the latest READY)
  std::uint64_t capacity = 0;    // from the storage service
  std::uint64_t free_bytes = 0;  // from storage READY and HEARTBEAT
  std::map<std::string, ServiceRecord> services;  // by service name
  // Leaving (DRAIN): still a source and still located, never a placement or
  // copy target. Cleared when the storage service goes or registers again.
  bool draining = false;
  // When the storage service registered on its current connection: how long
  // the peer has been live (surplus copies are trimmed only after a grace).
  TimePoint live_since{};

  bool live() const { return services.contains(proto::kServiceStorage); }
  TimePoint last_seen() const;  // latest over its services
};

// Which service of which peer a connection belongs to.
struct ServiceKey {
  std::string peer_id;
  std::string service;
};

// A service that went away (DISCONNECT, expiry or READY twice).
struct Departure {
  std::string peer_id;
  std::string service;
  std::string routing;
  bool peer_gone = false;  // it was the storage service: the peer is no longer live
};

struct ReadyOutcome {
  bool peer_live = false;  // this READY made the peer live (storage registered)
  // Storage came back on a new connection:
  bool restarted = false;    // from another process: its holdings are stale
  bool reconnected = false;  // the same process (incarnation and endpoint): its holdings stand, unconfirmed
};

class PeerRegistry {
 public:
  explicit PeerRegistry(Clock::duration expiry) : expiry_(expiry) {}

  // Registers the service behind `routing`. kBadRequest for an unknown
  // service name, an empty or oversized peer id, an empty endpoint, or a
  // second READY on a registered connection (the caller should drop that
  // service with remove() and send DISCONNECT, as MDP says).
  Result<ReadyOutcome> ready(const std::string& routing, const proto::ReadyBody& body, TimePoint now);

  // The service behind a connection, or nullptr when it is not registered.
  const ServiceKey* find(const std::string& routing) const;
  // Any message counts as a heartbeat. False when the connection is unknown.
  bool touch(const std::string& routing, TimePoint now);
  void set_free_bytes(const std::string& peer_id, std::uint64_t free_bytes);
  // Counts `bytes` just placed on the peer against its free space until its
  // next heartbeat reports the real figure, so back-to-back puts spread out.
  void reserve_space(const std::string& peer_id, std::uint64_t bytes);
  // Marks a live peer draining. False when the peer is not live.
  bool set_draining(const std::string& peer_id);

  // Unregisters a connection's service (DISCONNECT); nullopt when unknown.
  std::optional<Departure> remove(const std::string& routing);
  // The tracker spent `busy` on one piece of work (a pass over every file)
  // without reading its input: messages sent meanwhile wait in its socket,
  // so that time is nobody's silence. Every service's window grows by it.
  // O(1). REQUIRES: busy >= 0.
  void excuse(Clock::duration busy) { excused_ += busy; }

  // Unregisters every service silent for `expiry` or longer at `now`,
  // excused time not counted. Cheap when nothing is due: safe to call
  // before every message.
  std::vector<Departure> expire(TimePoint now);
  // No service can expire before this (TimePoint::max() when none registered).
  TimePoint next_expiry() const { return next_expiry_; }

  bool is_live(const std::string& peer_id) const;
  const PeerRecord* peer(const std::string& peer_id) const;
  // Every peer with at least one registered service, by peer id.
  const std::map<std::string, PeerRecord>& peers() const { return peers_; }
  std::vector<const PeerRecord*> live_peers() const;
  // Live peers that are not draining: placement and copy candidates.
  std::size_t live_non_draining() const;
  // Routing keys of every registered service (the tracker heartbeats them all).
  std::vector<std::string> routings() const;

  // Moves on every change a replication plan can depend on: a service
  // registered or gone, an endpoint, a peer draining. Not on touches or
  // free-space reports, which come with every heartbeat (a plan with nothing
  // to copy or trim does not read free space).
  std::uint64_t version() const { return version_; }

 private:
  // When the service's silence reaches expiry_, excused time not counted.
  TimePoint deadline(const ServiceRecord& s) const { return s.last_seen + expiry_ + (excused_ - s.excused_at); }

  Clock::duration expiry_;
  Clock::duration excused_{};  // total excuse()d since construction
  std::uint64_t version_ = 0;
  std::map<std::string, PeerRecord> peers_;
  std::unordered_map<std::string, ServiceKey> by_routing_;
  // A lower bound on the earliest expiry: touches and excuses only move
  // expiries later, so it stays valid until expire() recomputes it.
  TimePoint next_expiry_ = TimePoint::max();
};

}  // namespace p2p::tracker
