// Broker: the client side (PLACE, PUBLISH, LOCATE, SEARCH, LIST, STAT, PEERS,
// STATUS, LEAVE). The loop and dispatch are in broker.cpp.
#include "services/tracker/broker.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>

#include "common/file_name.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sockets.h"
#include "common/splitmix64.h"
#include "services/tracker/broker_internal.h"
#include "services/tracker/name_pattern.h"
#include "services/tracker/placement.h"

namespace p2p::tracker {

using namespace detail;

// ---- client side ----------------------------------------------------------

Result<proto::PlaceReply> Broker::place(const proto::PlaceRequest& req, TimePoint) {
  if (Status s = validate_name(req.name); !s.ok()) return s;
  if (req.avoid.size() > limits::kMaxAvoidedPeers)
    return Status{ErrorCode::kBadRequest, "more than " + std::to_string(limits::kMaxAvoidedPeers) + " peers to avoid"};
  const std::uint32_t k = std::min(req.replicas != 0 ? req.replicas : options_.replicas, limits::kMaxReplicas);
  std::vector<PlacementCandidate> candidates, avoided;
  for (const PeerRecord* p : registry_.live_peers()) {
    if (p->draining) continue;
    const bool avoid = std::find(req.avoid.begin(), req.avoid.end(), p->peer_id) != req.avoid.end();
    (avoid ? avoided : candidates).push_back({p->peer_id, p->endpoint, p->free_bytes});
  }
  auto chosen = choose_peers(candidates, req.size, k, req.name);
  // The peers the client saw fail are a last resort: they may have recovered.
  if (!chosen.ok() && !avoided.empty()) {
    candidates.insert(candidates.end(), avoided.begin(), avoided.end());
    chosen = choose_peers(std::move(candidates), req.size, k, req.name);
  }
  if (!chosen.ok()) return chosen.status();
  proto::PlaceReply reply;
  for (const auto& c : chosen.value()) {
    reply.peers.push_back({c.peer_id, c.endpoint});
    registry_.reserve_space(c.peer_id, req.size);
  }
  reply.replicas = k;
  if (const FileRecord* existing = index_.find_name(req.name)) {
    reply.exists = true;
    reply.existing_file_id = existing->id;
  }
  std::string chosen_ids;
  for (const auto& c : reply.peers) chosen_ids += (chosen_ids.empty() ? "" : ",") + c.peer_id;
  P2P_INFO("place name=%s size=%llu k=%u avoid=%zu -> %s", req.name.c_str(), ull(req.size), k, req.avoid.size(),
           chosen_ids.c_str());
  return reply;
}

Result<proto::PublishReply> Broker::publish(const proto::PublishRequest& req, TimePoint) {
  if (Status s = req.manifest.validate(); !s.ok()) return s;
  std::vector<std::string> live;
  for (const std::string& peer : req.holders)
    if (registry_.is_live(peer) && std::find(live.begin(), live.end(), peer) == live.end()) live.push_back(peer);
  // Indexed with no holder, the file (and its name) would stay for good:
  // named files are never dropped, so any client could grow the index
  // without bound. (A put whose holders all died since COMMIT fails.)
  if (live.empty())
    return Status{ErrorCode::kUnavailable, "none of the " + std::to_string(req.holders.size()) +
                                               " listed holders of '" + req.manifest.name + "' is a live peer"};
  Result<Hash> id = index_.publish(req.manifest, live, req.force);
  if (!id.ok()) return id.status();
  P2P_INFO("publish name=%s file=%s size=%llu holders=%zu (of %zu listed)%s", req.manifest.name.c_str(),
           id->hex().c_str(), ull(req.manifest.size), live.size(), req.holders.size(), req.force ? " force" : "");
  return proto::PublishReply{id.value()};
}

proto::IndexState Broker::index_state(TimePoint now) const {
  proto::IndexState state;
  state.announcing = static_cast<std::uint32_t>(announcing_.size());
  const auto since_start = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_);
  if (since_start < options_.rejoin())
    state.rejoin_left_ms = static_cast<std::uint64_t>((options_.rejoin() - since_start).count());
  state.departed_holdings = index_.departed_holdings();
  return state;
}

Status Broker::unknown_file(const std::string& query, TimePoint now) const {
  const std::string what = "no file named or with id '" + query + "'";
  const proto::IndexState state = index_state(now);
  if (state.rejoin_left_ms > 0)
    return Status{ErrorCode::kAnnouncing, what + " yet: the tracker started recently and its peers may rejoin it for " +
                                              std::to_string(state.rejoin_left_ms) + " ms more; ask again"};
  if (state.announcing > 0) {
    const std::uint32_t n = state.announcing;
    return Status{ErrorCode::kAnnouncing, what + " yet: " + std::to_string(n) + (n == 1 ? " peer is" : " peers are") +
                                              " still announcing files; ask again"};
  }
  return Status{ErrorCode::kNotFound, what};
}

Result<proto::LocateReply> Broker::locate(const proto::QueryRequest& req, const std::string& routing, TimePoint now) {
  const FileRecord* file = index_.lookup(req.query);
  if (file == nullptr) return unknown_file(req.query, now);
  proto::LocateReply reply{file->id, file->manifest, holders_for_get(*file, routing)};
  if (reply.holders.empty())
    return Status{ErrorCode::kUnavailable, "no live peer holds '" + file->manifest.name + "' (" + file->id.hex() + ")"};
  return reply;
}

std::vector<proto::HolderInfo> Broker::holders_for_get(const FileRecord& file, const std::string& routing) const {
  // A get of up to 4 chunks asks only its first holder. In peer-id order one
  // holder served every small get of a file; shuffled per request, one
  // client's consecutive small gets hopped between holders, waking another
  // process and using another connection each time (1,000 x 4 KiB by one
  // client: 2,055-2,525 files/s against 2,250-2,687 in one order). So each
  // connection has its own order (rendezvous hashing: a holder that comes
  // or goes moves no other's rank), and clients spread over the holders.
  // mix64: nearby routing ids (libzmq counts them up) still give unrelated orders.
  const std::uint64_t asker = mix64(std::hash<std::string>{}(routing));
  struct Ranked {
    bool draining;
    std::uint64_t score;
    const std::string* peer_id;  // in `file`
    const PeerRecord* peer;      // in registry_
  };
  std::vector<Ranked> ranked;
  ranked.reserve(file.holders.size());
  for (const std::string& peer_id : file.holders) {
    const PeerRecord* p = registry_.peer(peer_id);
    if (p == nullptr || !p->live()) continue;  // as holder_infos
    ranked.push_back({p->draining, mix64(asker ^ std::hash<std::string>{}(peer_id)), &peer_id, p});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.draining != b.draining) return !a.draining;
    return a.score != b.score ? a.score > b.score : *a.peer_id < *b.peer_id;
  });
  std::vector<proto::HolderInfo> out;
  out.reserve(ranked.size());
  for (const Ranked& r : ranked) out.push_back({*r.peer_id, r.peer->endpoint});
  return out;
}

Result<proto::ListReply> Broker::search(const proto::SearchRequest& req, TimePoint now) {
  const std::vector<const FileRecord*> found = index_.search(NamePattern(req.pattern), kMaxSearchResults);
  proto::ListReply reply;
  reply.index = index_state(now);
  reply.files.reserve(found.size());
  for (const FileRecord* f : found) reply.files.push_back(summary(*f));
  return reply;
}

Result<proto::ListReply> Broker::list(const proto::Empty&, TimePoint now) { return search(proto::SearchRequest{}, now); }

Result<proto::StatReply> Broker::stat(const proto::QueryRequest& req, TimePoint now) {
  const FileRecord* file = index_.lookup(req.query);
  if (file == nullptr) return unknown_file(req.query, now);
  return proto::StatReply{summary(*file), holder_infos(*file), index_state(now)};
}

Result<proto::PeersReply> Broker::peers(const proto::Empty&, TimePoint now) {
  proto::PeersReply reply;
  for (const auto& [id, p] : registry_.peers()) {
    proto::PeerSummary s;
    s.peer_id = p.peer_id;
    s.endpoint = p.endpoint;
    s.capacity = p.capacity;
    s.free_bytes = p.free_bytes;
    s.files = static_cast<std::uint32_t>(index_.files_held_by(p.peer_id));
    const auto silence = std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_seen()).count();
    s.last_seen_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(silence, 0));
    for (const auto& [name, service] : p.services) s.services.push_back(name);
    s.draining = p.draining;
    s.copies = static_cast<std::uint32_t>(orders_.copies_to(p.peer_id));  // the tracker's orders in flight
    reply.peers.push_back(std::move(s));
  }
  return reply;
}

Result<proto::StatusReply> Broker::status(const proto::Empty&, TimePoint now) {
  proto::StatusReply reply;
  reply.index = index_state(now);
  for (const PeerRecord* p : registry_.live_peers()) {
    ++reply.peers;
    reply.capacity += p->capacity;
    reply.free_bytes += p->free_bytes;
    if (p->draining) ++reply.draining;
  }
  const IndexCounts counts = index_.counts();
  reply.files = counts.files;
  reply.bytes = counts.bytes;
  reply.stored_bytes = counts.stored_bytes;
  reply.unavailable = counts.unavailable;
  reply.under_replicated = under_replicated();
  reply.copies = static_cast<std::uint32_t>(orders_.copies());
  return reply;
}

std::uint32_t Broker::under_replicated() const {
  // Under-replicated as the policy means it: safe holders < min(k, live
  // non-draining peers). The index counts every holder as safe; only the
  // files of draining peers can differ, so only they are looked at.
  const std::size_t eligible = registry_.live_non_draining();
  std::int64_t n = index_.short_of_holders(eligible);
  std::set<Hash> seen;
  for (const PeerRecord* p : registry_.live_peers()) {
    if (!p->draining) continue;
    for (const FileRecord* f : index_.held_by(p->peer_id)) {
      if (!seen.insert(f->id).second) continue;
      const std::uint32_t k = index_.wanted_replicas(*f);
      const bool counted = f->holders.size() < std::min<std::size_t>(k, eligible);
      n += static_cast<int>(file_health(*f, k, eligible, registry_).under_replicated()) - static_cast<int>(counted);
    }
  }
  return static_cast<std::uint32_t>(n);
}

Result<proto::Empty> Broker::leave(const proto::QueryRequest& req, TimePoint) {
  if (!registry_.is_live(req.query)) return Status{ErrorCode::kNotFound, "no live peer '" + req.query + "'"};
  Status sent = send_to_service(req.query, proto::kServiceStorage, Command::kDrain, codec::encode(proto::Empty{}));
  if (!sent.ok()) return Status{ErrorCode::kUnavailable, "DRAIN to peer " + req.query + " not sent: " + sent.message()};
  // Draining from now: the peer's own DRAIN, which follows, changes nothing.
  registry_.set_draining(req.query);
  released_.erase(req.query);
  P2P_INFO("drain peer=%s files=%zu: asked by a client (p2p leave); sent DRAIN", req.query.c_str(),
           index_.files_held_by(req.query));
  return proto::Empty{};
}

proto::FileSummary Broker::summary(const FileRecord& file) const {
  // Live holders, as holder_infos lists them: a departure in progress leaves
  // the departed peer on the files it has not reached yet.
  const auto holders = std::count_if(file.holders.begin(), file.holders.end(),
                                     [&](const std::string& id) { return registry_.is_live(id); });
  return proto::FileSummary{file.id,
                            file.manifest.name,
                            file.manifest.size,
                            file.manifest.chunk_count(),
                            index_.wanted_replicas(file),
                            static_cast<std::uint32_t>(holders)};
}

std::vector<proto::HolderInfo> Broker::holder_infos(const FileRecord& file) const {
  std::vector<proto::HolderInfo> out;
  out.reserve(file.holders.size());
  for (const std::string& peer_id : file.holders) {
    // A departure in progress leaves the departed peer on the files it has
    // not reached yet (file_index.h): only live peers are named.
    const PeerRecord* p = registry_.peer(peer_id);
    if (p != nullptr && p->live()) out.push_back({peer_id, p->endpoint});
  }
  return out;
}

}  // namespace p2p::tracker
