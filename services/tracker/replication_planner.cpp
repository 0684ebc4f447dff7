#include "services/tracker/replication_planner.h"

#include <algorithm>
#include <map>
#include <set>

namespace p2p::tracker {

namespace {

// A possible copy target and what this tick has already promised it.
struct Target {
  const PeerRecord* peer = nullptr;
  std::uint64_t free = 0;   // free bytes minus copies in flight or planned
  std::uint32_t slots = 0;  // copies it may still receive
};

std::map<std::string, Target> copy_targets(const PeerRegistry& registry, const CopyTracker& orders,
                                           const ReplicationPolicy& policy) {
  std::map<std::string, Target> out;
  for (const PeerRecord* p : registry.live_peers()) {
    if (p->draining || !p->services.contains(proto::kServiceReplication)) continue;
    const std::uint64_t promised = orders.bytes_to(p->peer_id);
    const std::size_t running = orders.copies_to(p->peer_id);
    Target t;
    t.peer = p;
    t.free = p->free_bytes > promised ? p->free_bytes - promised : 0;
    t.slots = running < policy.max_copies_per_peer ? policy.max_copies_per_peer - static_cast<std::uint32_t>(running)
                                                   : 0;
    out.emplace(p->peer_id, t);
  }
  return out;
}

std::vector<proto::HolderInfo> sources_of(const FileRecord& file, const PeerRegistry& registry) {
  std::vector<proto::HolderInfo> safe, draining;
  for (const std::string& id : file.holders) {
    const PeerRecord* p = registry.peer(id);
    if (p == nullptr || !p->live()) continue;
    (p->draining ? draining : safe).push_back({id, p->endpoint});
  }
  safe.insert(safe.end(), draining.begin(), draining.end());
  return safe;
}

// Copies for one file, at most `missing`, taken from `targets`.
void plan_copies(const FileRecord& file, std::size_t missing, const PeerRegistry& registry,
                 const CopyTracker& orders, std::map<std::string, Target>& targets, Clock::time_point now,
                 ReplicationPlan& plan) {
  std::vector<Target*> eligible;
  for (auto& [id, t] : targets) {
    if (t.slots == 0 || t.free < file.manifest.size) continue;
    if (file.holders.contains(id) || orders.copying(file.id, id)) continue;
    eligible.push_back(&t);
  }
  std::sort(eligible.begin(), eligible.end(), [&](const Target* a, const Target* b) {
    const bool a_failed = orders.failed_recently(file.id, a->peer->peer_id, now);
    const bool b_failed = orders.failed_recently(file.id, b->peer->peer_id, now);
    if (a_failed != b_failed) return !a_failed;
    if (a->free != b->free) return a->free > b->free;
    return a->peer->peer_id < b->peer->peer_id;
  });
  if (eligible.size() > missing) eligible.resize(missing);
  if (eligible.empty()) return;
  const std::vector<proto::HolderInfo> sources = sources_of(file, registry);
  for (Target* t : eligible) {
    t->free -= file.manifest.size;
    --t->slots;
    plan.copies.push_back(CopyOrder{file.id, t->peer->peer_id, file.manifest.size, sources});
  }
}

// The trim of one file, if it is due.
void plan_trim(const FileRecord& file, std::uint32_t k, const PeerRegistry& registry, const CopyTracker& orders,
               const ReplicationPolicy& policy, Clock::time_point now, ReplicationPlan& plan) {
  if (orders.delete_pending(file.id)) return;
  const PeerRecord* fullest = nullptr;
  std::size_t safe = 0;
  for (const std::string& id : file.holders) {
    const PeerRecord* p = registry.peer(id);
    if (p == nullptr || !p->live()) continue;
    if (now - p->live_since < policy.repair_grace) return;  // a holder too new: it may be a rejoin in progress
    if (p->draining) continue;
    ++safe;
    if (fullest == nullptr || p->free_bytes < fullest->free_bytes ||
        (p->free_bytes == fullest->free_bytes && p->peer_id < fullest->peer_id))
      fullest = p;
  }
  if (safe > k && fullest != nullptr) plan.deletes.push_back(DeleteOrder{file.id, fullest->peer_id});
}

}  // namespace

FileHealth file_health(const FileRecord& file, std::uint32_t k, std::size_t live_non_draining,
                       const PeerRegistry& registry) {
  FileHealth h;
  h.wanted = static_cast<std::uint32_t>(std::min<std::size_t>(k, live_non_draining));
  for (const std::string& id : file.holders) {
    const PeerRecord* p = registry.peer(id);
    if (p == nullptr || !p->live()) continue;
    ++h.live;
    if (!p->draining) ++h.safe;
  }
  return h;
}

bool in_safe_mode(const ReplicationPolicy& policy, Clock::time_point now) {
  return now - policy.started < policy.repair_grace;
}

Clock::time_point next_plan_at(Clock::time_point finished, Clock::duration took) {
  return finished + took * (kMaxPlanShare - 1);
}

bool in_repair_grace(const FileRecord& file, const ReplicationPolicy& policy, Clock::time_point now) {
  if (policy.new_file_settle > Clock::duration::zero() && now - file.first_seen < policy.new_file_settle) return true;
  if (file.lost_at == Clock::time_point{}) return false;  // never lost a holder: nothing may come back
  return now - file.lost_at < policy.repair_grace && file.holders.size() < file.holders_before_loss;
}

ReplicationPlan plan_replication(const PeerRegistry& registry, const FileIndex& index, const CopyTracker& orders,
                                 const ReplicationPolicy& policy, Clock::time_point now) {
  ReplicationPlan plan;
  if (in_safe_mode(policy, now)) return plan;
  const std::size_t eligible_peers = registry.live_non_draining();

  struct Need {
    const FileRecord* file;
    std::size_t safe;
    std::size_t missing;
  };
  std::vector<Need> needs;
  bool waiting = false;  // a file short of holders, or with a surplus
  for (const FileRecord* file : index.all_files()) {
    const std::uint32_t k = index.wanted_replicas(*file);
    const FileHealth h = file_health(*file, k, eligible_peers, registry);
    if (h.live == 0) continue;  // unavailable: nothing to copy from
    const std::size_t have = h.safe + orders.copies_of(file->id);
    if (have < h.wanted) {
      waiting = true;
      if (!in_repair_grace(*file, policy, now)) needs.push_back({file, h.safe, h.wanted - have});
    } else if (h.safe > k) {
      waiting = true;
      plan_trim(*file, k, registry, orders, policy, now, plan);
    }
  }
  plan.settled = !waiting;
  // Most endangered first; ties by file id so plans are reproducible.
  std::sort(needs.begin(), needs.end(), [](const Need& a, const Need& b) {
    return a.safe != b.safe ? a.safe < b.safe : a.file->id < b.file->id;
  });
  std::map<std::string, Target> targets = copy_targets(registry, orders, policy);
  for (const Need& n : needs) plan_copies(*n.file, n.missing, registry, orders, targets, now, plan);
  std::sort(plan.deletes.begin(), plan.deletes.end(),
            [](const DeleteOrder& a, const DeleteOrder& b) { return a.file_id < b.file_id; });
  return plan;
}

bool releasable(const std::string& peer_id, const PeerRegistry& registry, const FileIndex& index,
                const ReplicationPolicy& policy, Clock::time_point now) {
  const PeerRecord* peer = registry.peer(peer_id);
  if (peer == nullptr || !peer->live() || !peer->draining) return false;
  if (in_safe_mode(policy, now)) return false;
  // The peer is draining, so it is neither among the safe holders nor among
  // the live non-draining peers: "without it" is the plain health.
  const std::size_t others = registry.live_non_draining();
  for (const FileRecord* file : index.held_by(peer_id)) {
    if (file_health(*file, index.wanted_replicas(*file), others, registry).under_replicated()) return false;
  }
  return true;
}

}  // namespace p2p::tracker
