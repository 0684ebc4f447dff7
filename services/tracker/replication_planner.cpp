#include "services/tracker/replication_planner.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_set>

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

// Copies for one file, at most `missing`, taken from `targets`. Returns how
// many it planned.
std::size_t plan_copies(const FileRecord& file, std::size_t missing, const PeerRegistry& registry,
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
  if (eligible.empty()) return 0;
  const std::vector<proto::HolderInfo> sources = sources_of(file, registry);
  for (Target* t : eligible) {
    t->free -= file.manifest.size;
    --t->slots;
    plan.copies.push_back(CopyOrder{file.id, t->peer->peer_id, file.manifest.size, sources});
  }
  return eligible.size();
}

// The trim of one file, if it is due. `released` holds the bytes this plan's
// earlier trims free on each peer: a peer's reported free space is a heartbeat
// old, so without it every surplus file of a rejoin would trim the same peer.
void plan_trim(const FileRecord& file, std::uint32_t k, const PeerRegistry& registry, const CopyTracker& orders,
               const ReplicationPolicy& policy, Clock::time_point now,
               std::map<std::string, std::uint64_t>& released, ReplicationPlan& plan) {
  if (orders.delete_pending(file.id)) return;
  const PeerRecord* fullest = nullptr;
  std::uint64_t fullest_free = 0;
  std::size_t safe = 0;
  for (const std::string& id : file.holders) {
    const PeerRecord* p = registry.peer(id);
    if (p == nullptr || !p->live()) continue;
    if (now - p->live_since < policy.repair_grace) return;  // a holder too new: it may be a rejoin in progress
    if (p->draining) continue;
    ++safe;
    const auto r = released.find(id);
    const std::uint64_t free = p->free_bytes + (r == released.end() ? 0 : r->second);
    if (fullest == nullptr || free < fullest_free || (free == fullest_free && p->peer_id < fullest->peer_id)) {
      fullest = p;
      fullest_free = free;
    }
  }
  if (safe <= k || fullest == nullptr) return;
  released[fullest->peer_id] += file.manifest.size;
  plan.deletes.push_back(DeleteOrder{file.id, fullest->peer_id});
}

// One plan. It looks only at the files that can need work: those of
// draining peers (their holders are not all safe), the index's short files
// and its surplus files (FileIndex::visit_short, visit_surplus); any other
// file has exactly k safe holders. Copies go to the most endangered files
// first (fewest safe holders, then file id), so once every target slot is
// promised the rest of the short files cannot get one and are not looked at.
class Planner {
 public:
  Planner(const PeerRegistry& registry, const FileIndex& index, const CopyTracker& orders,
          const ReplicationPolicy& policy, Clock::time_point now, ReplicationPlan& plan)
      : registry_(registry), index_(index), orders_(orders), policy_(policy), now_(now), plan_(plan),
        eligible_peers_(registry.live_non_draining()), targets_(copy_targets(registry, orders, policy)) {
    for (const auto& [id, t] : targets_)
      if (t.free > 0) slots_ += t.slots;
  }

  void run() {
    collect_drained();
    // Short files in their repair grace wait and are not visited. Like those
    // visited in a grace below, they may already be made whole by copies in
    // flight: then the plan is merely not settled and is made again next tick.
    const Clock::time_point loss_cutoff = now_ - policy_.repair_grace;
    if (index_.short_in_repair_grace(eligible_peers_, loss_cutoff)) waiting_ = true;
    auto drained = drained_needs_.begin();
    index_.visit_short(eligible_peers_, loss_cutoff, [&](const FileRecord& file) {
      if (slots_ == 0 && waiting_) return false;  // settled is known and no copy can be planned
      if (drained_.contains(file.id)) return true;
      if (in_repair_grace(file, policy_, now_)) {
        // A new file settling (policy_.new_file_settle), short by its holder
        // count: it waits, without a look at its health.
        waiting_ = true;
        return true;
      }
      const std::optional<Need> need = assess(file);
      if (!need) return true;
      for (; drained != drained_needs_.end() && before(*drained, *need); ++drained) copy(*drained);
      copy(*need);
      return true;
    });
    for (; drained != drained_needs_.end(); ++drained) copy(*drained);
    index_.visit_surplus([&](const FileRecord& file) {
      if (!drained_.contains(file.id)) (void)assess(file);
    });
    plan_.settled = !waiting_;
  }

 private:
  struct Need {
    const FileRecord* file;
    std::size_t safe;
    std::size_t missing;
  };
  static bool before(const Need& a, const Need& b) {
    return a.safe != b.safe ? a.safe < b.safe : a.file->id < b.file->id;
  }

  // The files of draining peers, each once, their needs sorted.
  void collect_drained() {
    for (const PeerRecord* p : registry_.live_peers()) {
      if (!p->draining) continue;
      for (const FileRecord* file : index_.held_by(p->peer_id)) {
        if (!drained_.insert(file->id).second) continue;
        if (std::optional<Need> need = assess(*file)) drained_needs_.push_back(*need);
      }
    }
    std::sort(drained_needs_.begin(), drained_needs_.end(), before);
  }

  // Plans the file's trim if it has a surplus; returns its need if it wants
  // copies now. Notes whether it waits for a copy, a grace or a trim.
  std::optional<Need> assess(const FileRecord& file) {
    const std::uint32_t k = index_.wanted_replicas(file);
    const FileHealth h = file_health(file, k, eligible_peers_, registry_);
    if (h.live == 0) return std::nullopt;  // unavailable: nothing to copy from
    const std::size_t have = h.safe + orders_.copies_of(file.id);
    if (have < h.wanted) {
      waiting_ = true;
      if (in_repair_grace(file, policy_, now_)) return std::nullopt;
      return Need{&file, h.safe, h.wanted - have};
    }
    if (h.safe > k) {
      waiting_ = true;
      plan_trim(file, k, registry_, orders_, policy_, now_, released_, plan_);
    }
    return std::nullopt;
  }

  void copy(const Need& need) {
    if (slots_ == 0) return;
    slots_ -= plan_copies(*need.file, need.missing, registry_, orders_, targets_, now_, plan_);
  }

  const PeerRegistry& registry_;
  const FileIndex& index_;
  const CopyTracker& orders_;
  const ReplicationPolicy& policy_;
  const Clock::time_point now_;
  ReplicationPlan& plan_;
  const std::size_t eligible_peers_;
  std::map<std::string, Target> targets_;
  std::map<std::string, std::uint64_t> released_;  // bytes this plan's trims free, by peer
  std::size_t slots_ = 0;  // copies the targets may still receive
  bool waiting_ = false;   // a file short of holders, or with a surplus
  std::unordered_set<Hash, HashHasher> drained_;
  std::vector<Need> drained_needs_;
};

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
  return now < policy.safe_until;
}

Clock::time_point next_plan_at(Clock::time_point finished, Clock::duration took) {
  return finished + took * (kMaxPlanShare - 1);
}

bool in_repair_grace(const FileRecord& file, const ReplicationPolicy& policy, Clock::time_point now) {
  if (policy.new_file_settle > Clock::duration::zero() && now - file.first_seen < policy.new_file_settle) return true;
  return file.waiting_since_loss(now - policy.repair_grace);
}

ReplicationPlan plan_replication(const PeerRegistry& registry, const FileIndex& index, const CopyTracker& orders,
                                 const ReplicationPolicy& policy, Clock::time_point now) {
  ReplicationPlan plan;
  if (in_safe_mode(policy, now) || index.departing()) return plan;
  Planner planner(registry, index, orders, policy, now, plan);
  planner.run();
  std::sort(plan.deletes.begin(), plan.deletes.end(),
            [](const DeleteOrder& a, const DeleteOrder& b) { return a.file_id < b.file_id; });
  return plan;
}

bool releasable(const std::string& peer_id, const PeerRegistry& registry, const FileIndex& index,
                const CopyTracker& orders, const ReplicationPolicy& policy, Clock::time_point now) {
  const PeerRecord* peer = registry.peer(peer_id);
  if (peer == nullptr || !peer->live() || !peer->draining) return false;
  if (in_safe_mode(policy, now) || index.departing()) return false;
  for (const DeleteInFlight& d : orders.all_deletes()) {
    if (d.holder == peer_id) continue;  // its own copy going changes nothing for the others
    const FileRecord* file = index.find(d.file_id);
    if (file != nullptr && file->holders.contains(peer_id)) return false;
  }
  // The peer is draining, so it is neither among the safe holders nor among
  // the live non-draining peers: "without it" is the plain health.
  const std::size_t others = registry.live_non_draining();
  for (const FileRecord* file : index.held_by(peer_id)) {
    if (file_health(*file, index.wanted_replicas(*file), others, registry).under_replicated()) return false;
  }
  return true;
}

}  // namespace p2p::tracker
