#include "services/tracker/peer_registry.h"

#include <algorithm>

namespace p2p::tracker {

namespace {

bool known_service(const std::string& s) {
  return s == proto::kServiceStorage || s == proto::kServiceTransfer || s == proto::kServiceReplication;
}

Status check_ready(const proto::ReadyBody& body) {
  if (!known_service(body.service)) return {ErrorCode::kBadRequest, "unknown service '" + body.service + "'"};
  if (body.peer_id.empty() || body.peer_id.size() > kMaxPeerIdBytes)
    return {ErrorCode::kBadRequest, "peer id must be 1.." + std::to_string(kMaxPeerIdBytes) + " bytes"};
  for (char c : body.peer_id) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return {ErrorCode::kBadRequest, "peer id has a space or control character"};
  }
  if (body.endpoint.empty()) return {ErrorCode::kBadRequest, "empty endpoint"};
  return Status::Ok();
}

}  // namespace

TimePoint PeerRecord::last_seen() const {
  TimePoint latest{};
  for (const auto& [name, s] : services) latest = std::max(latest, s.last_seen);
  return latest;
}

Result<ReadyOutcome> PeerRegistry::ready(const std::string& routing, const proto::ReadyBody& body, TimePoint now) {
  if (by_routing_.contains(routing)) return Status{ErrorCode::kBadRequest, "READY twice on one connection"};
  if (Status s = check_ready(body); !s.ok()) return s;

  PeerRecord& peer = peers_[body.peer_id];
  peer.peer_id = body.peer_id;
  const bool same_endpoint = peer.endpoint == body.endpoint;
  peer.endpoint = body.endpoint;
  const bool storage = body.service == proto::kServiceStorage;
  ReadyOutcome out;
  out.peer_live = storage && !peer.live();

  auto it = peer.services.find(body.service);
  if (it != peer.services.end()) {
    // The same service on a new connection: the old one is stale. The same
    // process reconnected after losing us, or the peer restarted.
    by_routing_.erase(it->second.routing);
    const bool same_process = body.incarnation != 0 && it->second.incarnation == body.incarnation && same_endpoint;
    out.reconnected = storage && same_process;
    out.restarted = storage && !same_process;
  }
  peer.services[body.service] = ServiceRecord{routing, now, excused_, body.incarnation};
  by_routing_[routing] = ServiceKey{body.peer_id, body.service};
  if (storage) {
    peer.capacity = body.capacity;
    peer.free_bytes = body.free_bytes;
    // A new storage connection is a new life: a restarted peer that still
    // wants to leave says DRAIN again after its READY.
    peer.draining = false;
    peer.live_since = now;
  }
  next_expiry_ = std::min(next_expiry_, now + expiry_);
  ++version_;
  return out;
}

const ServiceKey* PeerRegistry::find(const std::string& routing) const {
  auto it = by_routing_.find(routing);
  return it == by_routing_.end() ? nullptr : &it->second;
}

bool PeerRegistry::set_draining(const std::string& peer_id) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || !it->second.live()) return false;
  if (!it->second.draining) ++version_;
  it->second.draining = true;
  return true;
}

bool PeerRegistry::touch(const std::string& routing, TimePoint now) {
  const ServiceKey* key = find(routing);
  if (key == nullptr) return false;
  ServiceRecord& s = peers_.at(key->peer_id).services.at(key->service);
  if (now >= s.last_seen) {
    s.last_seen = now;
    s.excused_at = excused_;
  }
  return true;
}

void PeerRegistry::set_free_bytes(const std::string& peer_id, std::uint64_t free_bytes) {
  auto it = peers_.find(peer_id);
  if (it != peers_.end()) it->second.free_bytes = free_bytes;
}

void PeerRegistry::reserve_space(const std::string& peer_id, std::uint64_t bytes) {
  auto it = peers_.find(peer_id);
  if (it != peers_.end()) it->second.free_bytes -= std::min(it->second.free_bytes, bytes);
}

std::optional<Departure> PeerRegistry::remove(const std::string& routing) {
  auto it = by_routing_.find(routing);
  if (it == by_routing_.end()) return std::nullopt;
  Departure d{it->second.peer_id, it->second.service, routing, it->second.service == proto::kServiceStorage};
  by_routing_.erase(it);
  auto peer = peers_.find(d.peer_id);
  peer->second.services.erase(d.service);
  if (d.peer_gone) peer->second.draining = false;  // a draining peer that goes is just gone
  if (peer->second.services.empty()) peers_.erase(peer);
  ++version_;
  return d;
}

std::vector<Departure> PeerRegistry::expire(TimePoint now) {
  std::vector<Departure> gone;
  if (now < next_expiry_) return gone;
  next_expiry_ = TimePoint::max();
  for (auto peer = peers_.begin(); peer != peers_.end();) {
    auto& services = peer->second.services;
    for (auto s = services.begin(); s != services.end();) {
      const TimePoint due = deadline(s->second);
      if (now >= due) {
        gone.push_back(Departure{peer->first, s->first, s->second.routing, s->first == proto::kServiceStorage});
        by_routing_.erase(s->second.routing);
        if (s->first == proto::kServiceStorage) peer->second.draining = false;
        s = services.erase(s);
      } else {
        next_expiry_ = std::min(next_expiry_, due);
        ++s;
      }
    }
    peer = services.empty() ? peers_.erase(peer) : std::next(peer);
  }
  if (!gone.empty()) ++version_;
  return gone;
}

bool PeerRegistry::is_live(const std::string& peer_id) const {
  const PeerRecord* p = peer(peer_id);
  return p != nullptr && p->live();
}

const PeerRecord* PeerRegistry::peer(const std::string& peer_id) const {
  auto it = peers_.find(peer_id);
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<const PeerRecord*> PeerRegistry::live_peers() const {
  std::vector<const PeerRecord*> out;
  for (const auto& [id, p] : peers_)
    if (p.live()) out.push_back(&p);
  return out;
}

std::size_t PeerRegistry::live_non_draining() const {
  std::size_t n = 0;
  for (const auto& [id, p] : peers_)
    if (p.live() && !p.draining) ++n;
  return n;
}

std::vector<std::string> PeerRegistry::routings() const {
  std::vector<std::string> out;
  out.reserve(by_routing_.size());
  for (const auto& [routing, key] : by_routing_) out.push_back(routing);
  return out;
}

}  // namespace p2p::tracker
