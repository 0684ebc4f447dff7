// Broker: the worker side (messages from peer services) and the replication
// orders it sends them. The loop and dispatch are in broker.cpp.
#include "services/tracker/broker.h"

#include <algorithm>

#include "common/file_name.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sockets.h"
#include "services/tracker/broker_internal.h"
#include "services/tracker/name_pattern.h"
#include "services/tracker/placement.h"

namespace p2p::tracker {

using namespace detail;

// ---- worker side ----------------------------------------------------------

void Broker::on_ready(const codec::Envelope& env, const std::string& routing, TimePoint now) {
  proto::ReadyBody body;
  if (Status s = codec::decode(env.body, &body); !s.ok()) return reject(env, s);
  Result<ReadyOutcome> outcome = registry_.ready(routing, body, now);
  if (!outcome.ok()) {
    if (registry_.find(routing) != nullptr) {
      // MDP: a worker never sends READY twice; drop it and let it start over.
      P2P_INFO("rejected READY from %s: %s, sent DISCONNECT", routing_text(routing).c_str(),
               outcome.status().message().c_str());
      handle_departures({*registry_.remove(routing)}, "drop", now);
      return send_disconnect(routing);
    }
    return reject(env, outcome.status());
  }
  // The storage service on a new connection. Restarted: its holdings are
  // stale until it re-announces (a loss, so a quick restart gets the repair
  // grace). Reconnected: they stand until its announcement is complete.
  if (outcome->restarted) forget_holdings(body.peer_id, now, "peer=" + body.peer_id + " storage restarted");
  if (outcome->reconnected) keep_holdings(body.peer_id);
  if (body.service == proto::kServiceStorage) {
    announcing_.insert(body.peer_id);  // until its complete batch
    last_announcement_ = now;          // replication waits for its batches (announcement_in_progress)
  }
  P2P_INFO("join peer=%s service=%s endpoint=%s capacity=%llu free=%llu%s", body.peer_id.c_str(),
           body.service.c_str(), body.endpoint.c_str(), ull(body.capacity), ull(body.free_bytes),
           outcome->peer_live ? " (peer is live)" : "");
}

void Broker::on_heartbeat(const codec::Envelope& env, const ServiceKey& service) {
  proto::HeartbeatBody body;
  if (Status s = codec::decode(env.body, &body); !s.ok()) return reject(env, s);
  if (service.service == proto::kServiceStorage) registry_.set_free_bytes(service.peer_id, body.free_bytes);
}

void Broker::on_disconnect(const std::string& routing) {
  std::optional<Departure> d = registry_.remove(routing);
  if (!d) {
    P2P_DEBUG("DISCONNECT from unknown connection %s ignored", routing_text(routing).c_str());
    return;
  }
  handle_departures({*d}, "leave", Clock::now());
}

void Broker::on_announce(const codec::Envelope& env, const ServiceKey& service) {
  if (service.service != proto::kServiceStorage)
    return reject(env, {ErrorCode::kBadRequest, "ANNOUNCE from the " + service.service + " service; only storage announces"});
  proto::AnnounceBody body;
  if (Status s = codec::decode(env.body, &body); !s.ok()) return reject(env, s);
  if (body.files.size() > limits::kMaxAnnounceBatch)
    return reject(env, {ErrorCode::kBadRequest, std::to_string(body.files.size()) + " manifests in one ANNOUNCE (at most " +
                                                    std::to_string(limits::kMaxAnnounceBatch) + ")"});
  std::vector<const Manifest*> valid;
  valid.reserve(body.files.size());
  for (const Manifest& m : body.files) {
    if (Status s = m.validate(); !s.ok()) {
      P2P_INFO("rejected manifest '%s' in ANNOUNCE from peer=%s: %s", m.name.c_str(), service.peer_id.c_str(),
               s.to_string().c_str());
      continue;
    }
    valid.push_back(&m);
  }
  const std::vector<HoldingOutcome> outcomes = index_.add_holdings(valid, service.peer_id);
  announced_in_wait_ += outcomes.size();
  std::size_t fresh = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const HoldingOutcome& h = outcomes[i];
    unconfirmed_.confirm(service.peer_id, h.id);
    // An announcement confirms a copy as well as REPLICATED does.
    if (orders_.finish_copy(h.id, service.peer_id))
      P2P_INFO("copy done file=%s name=%s peer=%s (announced)", h.id.hex().c_str(), valid[i]->name.c_str(),
               service.peer_id.c_str());
    if (h.new_file) ++fresh;
  }
  P2P_DEBUG("announce peer=%s files=%zu new=%zu skipped=%zu%s", service.peer_id.c_str(), valid.size(), fresh,
            body.files.size() - valid.size(), body.complete ? " (complete)" : "");
  if (announcing_.contains(service.peer_id)) last_announcement_ = Clock::now();  // replication waits for more
  if (body.complete) {
    drop_unconfirmed(service.peer_id);
    announcing_.erase(service.peer_id);
  }
}

void Broker::settle_safe_mode(TimePoint now) {
  const proto::IndexState state = index_state(now);
  // Every peer that rejoins within the rejoin window has announced all it
  // holds: what safe mode waits for is over, and a copy lost meanwhile (a
  // holder dropped a corrupt one) must not wait out the rest of the grace.
  if (state.complete()) {
    policy_.safe_until = std::min(policy_.safe_until, now);
    return;
  }
  // Until the rejoin window ends, any peer may still come back with any file:
  // a grace shorter than the window must not end safe mode before the peers
  // have even rejoined.
  if (state.rejoin_left_ms > 0)
    policy_.safe_until = std::max(policy_.safe_until, now + std::chrono::milliseconds(state.rejoin_left_ms));
  // A peer with many files announces for longer than a grace (three peers of
  // 1,000,000 files: 13-32 s here); a file one holder has announced and the others not
  // yet is no lost replica.
  if (announcement_in_progress(now))
    policy_.safe_until = std::max(policy_.safe_until, last_announcement_ + options_.repair_grace);
}

bool Broker::announcement_in_progress(TimePoint now) const {
  return !announcing_.empty() && now < last_announcement_ + options_.repair_grace;
}

void Broker::pause_short_files_if_big() {
  if (!index_.short_files_kept()) return;
  if (announced_in_wait_ < std::max<std::uint64_t>(options_.unsorted_announcement, index_.counts().files / 4)) return;
  short_file_pauses_.fetch_add(1);
  index_.pause_short_files();
  P2P_INFO("%llu files announced while replication waits: short files no longer kept in order until it resumes",
           static_cast<unsigned long long>(announced_in_wait_));
}

long long Broker::sort_short_files() {
  const TimePoint started = Clock::now();
  index_.keep_short_files();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
}

void Broker::on_replicated(const codec::Envelope& env, const ServiceKey& service) {
  if (service.service != proto::kServiceReplication)
    return reject(env, {ErrorCode::kBadRequest, "REPLICATED from the " + service.service + " service"});
  proto::ReplicatedBody body;
  if (Status s = codec::decode(env.body, &body); !s.ok()) return reject(env, s);
  const std::string file = body.file_id.hex();
  const char* peer = service.peer_id.c_str();
  if (body.code != 0) {
    const bool tracked = orders_.fail_copy(body.file_id, service.peer_id, Clock::now());
    P2P_INFO("copy failed file=%s peer=%s: %s %s%s", file.c_str(), peer,
             error_code_name(static_cast<ErrorCode>(body.code)), body.message.c_str(),
             tracked ? "; planned again on a later tick" : " (not an order in flight)");
    return;
  }
  const bool tracked = orders_.finish_copy(body.file_id, service.peer_id);
  const FileRecord* record = index_.find(body.file_id);
  if (record == nullptr || !registry_.is_live(service.peer_id)) {
    // Unknown file (e.g. we restarted) or storage not live: its ANNOUNCE will tell.
    P2P_INFO("copy done file=%s peer=%s; not recorded: %s", file.c_str(), peer,
             record == nullptr ? "file not indexed" : "peer storage not live");
    return;
  }
  if (!tracked && record->holders.contains(service.peer_id)) {
    // Its announcement came first and already confirmed the copy.
    P2P_DEBUG("copy confirmed file=%s peer=%s (already announced)", file.c_str(), peer);
    return;
  }
  const Manifest manifest = record->manifest;  // add_holding may touch the record
  index_.add_holding(manifest, service.peer_id);
  P2P_INFO("copy done file=%s name=%s peer=%s holders=%zu%s", file.c_str(), manifest.name.c_str(), peer,
           index_.find(body.file_id)->holders.size(), tracked ? "" : " (not an order in flight)");
}

void Broker::on_removed(const codec::Envelope& env, const ServiceKey& service) {
  if (service.service != proto::kServiceStorage)
    return reject(env, {ErrorCode::kBadRequest, "REMOVED from the " + service.service + " service"});
  proto::FileList body;
  if (Status s = codec::decode(env.body, &body); !s.ok()) return reject(env, s);
  for (const Hash& id : body.file_ids) {
    const bool ordered = orders_.finish_delete(id, service.peer_id);
    const bool held = index_.remove_holding(id, service.peer_id);
    const FileRecord* f = index_.find(id);
    P2P_INFO("removed file=%s peer=%s%s%s holders=%zu", id.hex().c_str(), service.peer_id.c_str(),
             ordered ? " (trim done)" : "", held ? "" : " (was not a holder)", f == nullptr ? 0 : f->holders.size());
  }
}

void Broker::on_drain(const codec::Envelope& env, const ServiceKey& service) {
  if (service.service != proto::kServiceStorage)
    return reject(env, {ErrorCode::kBadRequest, "DRAIN from the " + service.service + " service"});
  const PeerRecord* p = registry_.peer(service.peer_id);
  const bool already = p != nullptr && p->draining;
  registry_.set_draining(service.peer_id);
  released_.erase(service.peer_id);  // a repeated DRAIN (e.g. after a rejoin) gets its RELEASE again
  P2P_INFO("drain peer=%s files=%zu%s: no longer a placement or copy target", service.peer_id.c_str(),
           index_.files_held_by(service.peer_id), already ? " (already draining)" : "");
}

// ---- replication ----------------------------------------------------------

void Broker::replicate(TimePoint now) {
  const ExpiredOrders expired = orders_.expire(now);
  for (const CopyInFlight& c : expired.copies)
    P2P_INFO("copy failed file=%s peer=%s: no REPLICATED within %lld ms; planned again", c.file_id.hex().c_str(),
             c.target.c_str(), static_cast<long long>(options_.copy_timeout.count()));
  for (const DeleteInFlight& d : expired.deletes) {
    // The peer may have deleted its copy and its REMOVED be lost: still
    // counting it would let a later trim take another replica, or a release
    // rely on it. So the holder goes (no loss: the file is repaired at once if
    // short); if the peer still has the file, its next announcement adds it back.
    const bool dropped = index_.remove_holding(d.file_id, d.holder);
    const FileRecord* f = index_.find(d.file_id);
    P2P_INFO("trim unconfirmed file=%s peer=%s: no REMOVED within %lld ms; %s holders=%zu", d.file_id.hex().c_str(),
             d.holder.c_str(), static_cast<long long>(options_.copy_timeout.count()),
             dropped ? "no longer counted as a holder" : "was not a holder any more", f == nullptr ? 0 : f->holders.size());
  }
  if (!safe_mode_over_) settle_safe_mode(now);
  if (in_safe_mode(policy_, now)) return;
  if (!safe_mode_over_) {
    safe_mode_over_ = true;
    P2P_INFO("safe mode over: %lld ms since start (%s), repairs, trims and releases begin; %lld ms to sort the "
             "short files",
             static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()),
             index_state(now).complete() ? "the index is complete"
                                         : "no announcement for one repair grace; the index is not complete yet",
             sort_short_files());
  }
  // After safe mode, a peer that registers with many files (restarted, or
  // back after a while) announces for as long: its files only look lost.
  if (announcement_in_progress(now) != waiting_for_announcement_) {
    waiting_for_announcement_ = !waiting_for_announcement_;
    if (waiting_for_announcement_) {
      P2P_INFO("replication waits: %zu peers announcing what they hold", announcing_.size());
      announced_in_wait_ = 0;
    } else {
      P2P_INFO("replication resumes: %s", announcing_.empty() ? "every peer has announced what it holds"
                                                              : "no announcement for one repair grace");
      // Paused by a big announcement (pause_short_files_if_big): sorted before the plan below.
      if (!index_.short_files_kept()) P2P_INFO("%lld ms to sort the short files", sort_short_files());
    }
  }
  if (waiting_for_announcement_) {
    pause_short_files_if_big();
    return;
  }
  ticks_.fetch_add(1);
  if (settled_at_ != plan_inputs() && now >= next_plan_) {
    plans_.fetch_add(1);
    const TimePoint started = Clock::now();
    const ReplicationPlan plan = plan_replication(registry_, index_, orders_, policy_, now);
    const TimePoint finished = Clock::now();
    next_plan_ = next_plan_at(finished, finished - started);
    for (const CopyOrder& order : plan.copies) send_copy(order, now);
    for (const DeleteOrder& order : plan.deletes) send_delete(order, now);
    // A settled plan sent nothing, so the inputs are still the planned ones.
    settled_at_ = plan.settled ? std::optional<PlanInputs>(plan_inputs()) : std::nullopt;
  }
  release_drained(now);
}

void Broker::send_copy(const CopyOrder& order, TimePoint now) {
  const FileRecord* file = index_.find(order.file_id);
  if (file == nullptr) return;  // cannot happen: planned from the index this tick
  std::string sources;
  for (const proto::HolderInfo& h : order.sources) sources += (sources.empty() ? "" : ",") + h.peer_id;
  Status sent = send_to_service(order.target, proto::kServiceReplication, Command::kReplicate,
                                codec::encode(proto::ReplicateOrder{file->manifest, order.sources}));
  if (!sent.ok()) {
    P2P_WARN("repair file=%s peer=%s not sent: %s", order.file_id.hex().c_str(), order.target.c_str(),
             sent.to_string().c_str());
    return;
  }
  orders_.start_copy(order.file_id, order.target, order.bytes, now);
  const FileHealth h = file_health(*file, index_.wanted_replicas(*file), registry_.live_non_draining(), registry_);
  P2P_INFO("repair file=%s name=%s size=%llu -> REPLICATE at peer=%s sources=%s (safe=%zu live=%zu wanted=%u k=%u)",
           order.file_id.hex().c_str(), file->manifest.name.c_str(), ull(order.bytes), order.target.c_str(),
           sources.c_str(), h.safe, h.live, h.wanted, index_.wanted_replicas(*file));
}

void Broker::send_delete(const DeleteOrder& order, TimePoint now) {
  const FileRecord* file = index_.find(order.file_id);
  if (file == nullptr) return;
  Status sent = send_to_service(order.holder, proto::kServiceStorage, Command::kDelete,
                                codec::encode(proto::FileRef{order.file_id}));
  if (!sent.ok()) {
    P2P_WARN("trim file=%s peer=%s not sent: %s", order.file_id.hex().c_str(), order.holder.c_str(),
             sent.to_string().c_str());
    return;
  }
  orders_.start_delete(order.file_id, order.holder, now);
  P2P_INFO("trim file=%s name=%s -> DELETE at peer=%s (holders=%zu k=%u)", order.file_id.hex().c_str(),
           file->manifest.name.c_str(), order.holder.c_str(), file->holders.size(), index_.wanted_replicas(*file));
}

void Broker::release_drained(TimePoint now) {
  for (const PeerRecord* p : registry_.live_peers()) {
    if (!p->draining || !releasable(p->peer_id, registry_, index_, orders_, policy_, now)) continue;
    // Sent every tick while the peer stays: a RELEASE is tiny, and a lost
    // one would otherwise leave the peer waiting for ever.
    Status sent = send_to_service(p->peer_id, proto::kServiceStorage, Command::kRelease,
                                  codec::encode(proto::Empty{}));
    if (!sent.ok()) {
      P2P_WARN("release peer=%s not sent: %s", p->peer_id.c_str(), sent.to_string().c_str());
      continue;
    }
    if (released_.insert(p->peer_id).second)
      P2P_INFO("release peer=%s: its %zu files are safe without it", p->peer_id.c_str(),
               index_.files_held_by(p->peer_id));
  }
}

Status Broker::send_to_service(const std::string& peer_id, const char* service, proto::Command command,
                               zmq::message_t body) {
  const PeerRecord* p = registry_.peer(peer_id);
  if (p == nullptr) return {ErrorCode::kNotFound, "peer not registered"};
  auto it = p->services.find(service);
  if (it == p->services.end()) return {ErrorCode::kNotFound, std::string("no ") + service + " service registered"};
  const auto frames = routing_frames(it->second.routing);
  return codec::send_envelope(*socket_, kRouter, &frames, command, 0, std::move(body), nullptr, kDontWait);
}

}  // namespace p2p::tracker
