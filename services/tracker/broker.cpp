#include "services/tracker/broker.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/file_name.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sockets.h"
#include "services/tracker/name_pattern.h"
#include "services/tracker/placement.h"

namespace p2p::tracker {

namespace {

using proto::Command;
constexpr auto kRouter = codec::Layout::kRouter;
constexpr auto kDontWait = zmq::send_flags::dontwait;

// The registry keys services by their routing frames flattened into one
// string: each frame as a 4-byte length and its bytes. Peers connect
// directly, so that is one frame; the encoding still round-trips any count.
std::string routing_key(const std::vector<zmq::message_t>& routing) {
  std::string key;
  for (const auto& frame : routing) {
    const auto n = static_cast<std::uint32_t>(frame.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(frame.data<char>(), frame.size());
  }
  return key;
}

std::vector<zmq::message_t> routing_frames(const std::string& key) {
  std::vector<zmq::message_t> frames;
  std::size_t at = 0;
  while (at + sizeof(std::uint32_t) <= key.size()) {
    std::uint32_t n;
    std::memcpy(&n, key.data() + at, sizeof n);
    at += sizeof n;
    frames.emplace_back(key.data() + at, n);
    at += n;
  }
  return frames;
}

// Hex of the routing frames, "/"-separated: how connections appear in logs.
std::string routing_text(const std::string& key) {
  static const char* kDigits = "0123456789abcdef";
  std::string text;
  for (const auto& frame : routing_frames(key)) {
    if (!text.empty()) text += '/';
    for (std::size_t i = 0; i < frame.size(); ++i) {
      auto b = static_cast<unsigned char>(frame.data<char>()[i]);
      text += kDigits[b >> 4];
      text += kDigits[b & 15];
    }
  }
  return text.empty() ? "?" : text;
}

// 0 is never a command: it means the header itself was unreadable.
std::string command_text(std::uint8_t command) {
  if (command == 0) return "message";
  return proto::is_known_command(command) ? proto::command_name(static_cast<Command>(command))
                                          : "command " + std::to_string(command);
}

unsigned long long ull(std::uint64_t v) { return v; }

}  // namespace

Broker::Broker(zmq::context_t& ctx, TrackerOptions options)
    : ctx_(ctx),
      options_(std::move(options)),
      registry_(options_.expiry()),
      index_(options_.replicas),
      orders_(options_.copy_timeout),
      policy_{options_.repair_grace, options_.max_copies_per_peer, {}} {}

Result<std::string> Broker::bind() {
  const std::string endpoint = normalize_bind_endpoint(options_.endpoint);
  try {
    socket_ = make_socket(ctx_, zmq::socket_type::router, limits::kMaxControlMessage);
    // Unroutable replies fail loudly (EHOSTUNREACH) instead of vanishing;
    // every send is dontwait so this can never block (field notes 1.9).
    socket_->set(zmq::sockopt::router_mandatory, 1);
    socket_->bind(endpoint);
    return bound_endpoint(*socket_);
  } catch (const zmq::error_t& e) {
    socket_.reset();
    return Status{ErrorCode::kIo, "cannot listen on " + options_.endpoint + ": " + e.what()};
  }
}

Status Broker::run() {
  if (!socket_) return {ErrorCode::kInternal, "run() before a successful bind()"};
  Status result;
  policy_.started = Clock::now();  // safe mode: no repairs, trims or releases for one grace
  policy_.new_file_settle = std::min<Clock::duration>(options_.heartbeat * options_.liveness, options_.repair_grace);
  P2P_INFO("safe mode: no repairs, trims or releases for %lld ms while peers re-announce",
           static_cast<long long>(options_.repair_grace.count()));
  next_heartbeat_ = policy_.started + options_.heartbeat;
  try {
    while (!stop_.load()) {
      const TimePoint now = Clock::now();
      run_timers(now);
      const TimePoint wake = std::min({next_heartbeat_, registry_.next_expiry(), now + kStopCheckInterval});
      // Round up: rounding down would spin on poll(0) for the last millisecond.
      const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration::zero()));
      std::vector<zmq::pollitem_t> items{{socket_->handle(), 0, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, timeout);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (items[0].revents & ZMQ_POLLIN) read_messages();
    }
  } catch (const std::exception& e) {
    result = Status{ErrorCode::kInternal, std::string("broker loop failed: ") + e.what()};
    P2P_ERROR("%s", result.message().c_str());
  }
  socket_.reset();  // closed by the thread that used it
  return result;
}

void Broker::run_timers(TimePoint now) {
  handle_departures(registry_.expire(now), "death", now);
  if (now < next_heartbeat_) return;
  for (const std::string& routing : registry_.routings()) {
    const auto frames = routing_frames(routing);
    Status s = codec::send_envelope(*socket_, kRouter, &frames, Command::kHeartbeat, 0,
                                    codec::encode(proto::HeartbeatBody{}), nullptr, kDontWait);
    // Not fatal: a service we cannot reach will simply expire.
    if (!s.ok()) P2P_DEBUG("heartbeat to %s dropped: %s", routing_text(routing).c_str(), s.to_string().c_str());
  }
  next_heartbeat_ = now + options_.heartbeat;
  try {
    replicate(now);
  } catch (const std::exception& e) {
    // A bug, not bad input: skip this tick's orders rather than stop serving.
    P2P_ERROR("replication tick failed: %s", e.what());
  }
}

void Broker::read_messages() {
  for (int i = 0; i < kMaxBatch; ++i) {
    codec::Envelope env;
    const Status s = codec::recv_envelope(*socket_, kRouter, &env, zmq::recv_flags::dontwait);
    if (s.code() == ErrorCode::kTimeout) return;
    if (s.code() == ErrorCode::kInternal) {
      P2P_ERROR("receive failed: %s", s.message().c_str());
      return;
    }
    const TimePoint now = Clock::now();
    // Expire first, so a peer that just died is never in an answer.
    handle_departures(registry_.expire(now), "death", now);
    if (!s.ok()) {
      reject(env, s);  // malformed frames or wrong version
      continue;
    }
    const std::string routing = routing_key(env.routing);
    try {
      handle(env, routing, now);
    } catch (const std::exception& e) {
      // A bug, not bad input: answer rather than let it escape the loop.
      reject(env, {ErrorCode::kInternal, std::string("internal error: ") + e.what()});
    }
  }
}

void Broker::handle(codec::Envelope& env, const std::string& routing, TimePoint now) {
  // MDP: any command except DISCONNECT counts as a heartbeat.
  if (env.cmd() != Command::kDisconnect) registry_.touch(routing, now);
  if (env.has_data) return reject(env, {ErrorCode::kBadRequest, "unexpected data frame"});

  switch (env.cmd()) {
    case Command::kReady:
      return on_ready(env, routing, now);
    case Command::kDisconnect:
      return on_disconnect(routing);
    case Command::kHeartbeat:
    case Command::kAnnounce:
    case Command::kReplicated:
    case Command::kRemoved:
    case Command::kDrain: {
      const ServiceKey* found = registry_.find(routing);
      if (found == nullptr) {
        // Unknown connection (we restarted, or it expired): make it re-register.
        P2P_INFO("rejected %s from %s: unknown service connection, sent DISCONNECT", command_text(env.command).c_str(),
                 routing_text(routing).c_str());
        return send_disconnect(routing);
      }
      const ServiceKey service = *found;  // a copy: the handlers may change the registry
      if (env.cmd() == Command::kHeartbeat) return on_heartbeat(env, service);
      if (env.cmd() == Command::kAnnounce) return on_announce(env, service);
      if (env.cmd() == Command::kRemoved) return on_removed(env, service);
      if (env.cmd() == Command::kDrain) return on_drain(env, service);
      return on_replicated(env, service);
    }
    case Command::kPlace: return serve(env, &Broker::place, now);
    case Command::kPublish: return serve(env, &Broker::publish, now);
    case Command::kLocate: return serve(env, &Broker::locate, now);
    case Command::kSearch: return serve(env, &Broker::search, now);
    case Command::kList: return serve(env, &Broker::list, now);
    case Command::kStat: return serve(env, &Broker::stat, now);
    case Command::kPeers: return serve(env, &Broker::peers, now);
    case Command::kStatus: return serve(env, &Broker::status, now);
    case Command::kLeave: return serve(env, &Broker::leave, now);
    case Command::kOk:
    case Command::kError:
      // The tracker asks nothing that is answered this way; answering a
      // reply with an ERROR could start a ping-pong, so drop it.
      P2P_INFO("rejected %s from %s: unexpected reply, dropped", command_text(env.command).c_str(),
               routing_text(routing).c_str());
      return;
    default:
      return reject(env, {ErrorCode::kUnknownCommand,
                          command_text(env.command) + " is not served by the tracker"});
  }
}

template <class Request, class Reply>
void Broker::serve(const codec::Envelope& env, Result<Reply> (Broker::*handler)(const Request&, TimePoint),
                   TimePoint now) {
  Request request;
  if (Status s = codec::decode(env.body, &request); !s.ok()) return reject(env, s);
  Result<Reply> reply = (this->*handler)(request, now);
  if (!reply.ok()) return reject(env, reply.status());
  Status sent = codec::send_reply(*socket_, kRouter, env, reply.value(), nullptr, kDontWait);
  if (!sent.ok()) log_dropped(sent, env);
}

void Broker::reject(const codec::Envelope& env, const Status& why) {
  const std::string from = routing_text(routing_key(env.routing));
  if (!codec::reply_possible(env, kRouter)) {
    P2P_INFO("rejected message from %s: %s (no reply possible)", from.c_str(), why.to_string().c_str());
    return;
  }
  P2P_INFO("rejected %s from %s: %s", command_text(env.command).c_str(), from.c_str(), why.to_string().c_str());
  Status sent = codec::send_error(*socket_, kRouter, env, why, kDontWait);
  if (!sent.ok()) log_dropped(sent, env);
}

void Broker::send_disconnect(const std::string& routing) {
  const auto frames = routing_frames(routing);
  Status s = codec::send_envelope(*socket_, kRouter, &frames, Command::kDisconnect, 0, codec::encode(proto::Empty{}),
                                  nullptr, kDontWait);
  if (!s.ok()) P2P_WARN("DISCONNECT to %s dropped: %s", routing_text(routing).c_str(), s.to_string().c_str());
}

void Broker::log_dropped(const Status& send_status, const codec::Envelope& env) {
  P2P_WARN("reply to %s from %s dropped: %s", command_text(env.command).c_str(),
           routing_text(routing_key(env.routing)).c_str(), send_status.to_string().c_str());
}

void Broker::handle_departures(const std::vector<Departure>& gone, const char* how, TimePoint now) {
  for (const Departure& d : gone) {
    if (!d.peer_gone) {
      P2P_INFO("%s peer=%s service=%s", how, d.peer_id.c_str(), d.service.c_str());
      continue;
    }
    const std::string why =
        std::string(how) + " peer=" + d.peer_id + " service=" + d.service + ": peer is no longer live";
    forget_holdings(d.peer_id, now, why);
  }
}

void Broker::forget_holdings(const std::string& peer_id, TimePoint now, const std::string& why) {
  const std::size_t files = index_.remove_peer(peer_id, now);
  const std::size_t orders = orders_.forget_peer(peer_id);
  released_.erase(peer_id);
  P2P_INFO("%s; %zu files lost a holder (repair after %lld ms), %zu orders to it forgotten", why.c_str(), files,
           static_cast<long long>(options_.repair_grace.count()), orders);
}

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
  // The storage service on a new connection: its holdings are stale until it
  // re-announces (a loss, so a quick restart gets the repair grace).
  if (outcome->restarted) forget_holdings(body.peer_id, now, "peer=" + body.peer_id + " storage reconnected");
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
  std::size_t added = 0, fresh = 0;
  for (const Manifest& m : body.files) {
    if (Status s = m.validate(); !s.ok()) {
      P2P_INFO("rejected manifest '%s' in ANNOUNCE from peer=%s: %s", m.name.c_str(), service.peer_id.c_str(),
               s.to_string().c_str());
      continue;
    }
    HoldingOutcome h = index_.add_holding(m, service.peer_id);
    // An announcement confirms a copy as well as REPLICATED does.
    if (orders_.finish_copy(h.id, service.peer_id))
      P2P_INFO("copy done file=%s name=%s peer=%s (announced)", h.id.hex().c_str(), m.name.c_str(),
               service.peer_id.c_str());
    ++added;
    if (h.new_file) ++fresh;
  }
  P2P_DEBUG("announce peer=%s files=%zu new=%zu skipped=%zu", service.peer_id.c_str(), added, fresh,
            body.files.size() - added);
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
  for (const DeleteInFlight& d : expired.deletes)
    P2P_INFO("trim unconfirmed file=%s peer=%s: no REMOVED within %lld ms", d.file_id.hex().c_str(),
             d.holder.c_str(), static_cast<long long>(options_.copy_timeout.count()));
  if (in_safe_mode(policy_, now)) return;
  if (!safe_mode_over_) {
    safe_mode_over_ = true;
    P2P_INFO("safe mode over: %lld ms since start, repairs, trims and releases begin",
             static_cast<long long>(options_.repair_grace.count()));
  }
  const ReplicationPlan plan = plan_replication(registry_, index_, orders_, policy_, now);
  for (const CopyOrder& order : plan.copies) send_copy(order, now);
  for (const DeleteOrder& order : plan.deletes) send_delete(order, now);
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
    if (!p->draining || !releasable(p->peer_id, registry_, index_, policy_, now)) continue;
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

// ---- client side ----------------------------------------------------------

Result<proto::PlaceReply> Broker::place(const proto::PlaceRequest& req, TimePoint) {
  if (Status s = validate_name(req.name); !s.ok()) return s;
  const std::uint32_t k = std::min(req.replicas != 0 ? req.replicas : options_.replicas, limits::kMaxReplicas);
  std::vector<PlacementCandidate> candidates;
  for (const PeerRecord* p : registry_.live_peers())
    if (!p->draining) candidates.push_back({p->peer_id, p->endpoint, p->free_bytes});
  auto chosen = choose_peers(std::move(candidates), req.size, k);
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
  P2P_INFO("place name=%s size=%llu k=%u -> %s", req.name.c_str(), ull(req.size), k, chosen_ids.c_str());
  return reply;
}

Result<proto::PublishReply> Broker::publish(const proto::PublishRequest& req, TimePoint) {
  if (Status s = req.manifest.validate(); !s.ok()) return s;
  std::vector<std::string> live;
  for (const std::string& peer : req.holders)
    if (registry_.is_live(peer) && std::find(live.begin(), live.end(), peer) == live.end()) live.push_back(peer);
  Result<Hash> id = index_.publish(req.manifest, live, req.force);
  if (!id.ok()) return id.status();
  P2P_INFO("publish name=%s file=%s size=%llu holders=%zu (of %zu listed)%s", req.manifest.name.c_str(),
           id->hex().c_str(), ull(req.manifest.size), live.size(), req.holders.size(), req.force ? " force" : "");
  return proto::PublishReply{id.value()};
}

Result<proto::LocateReply> Broker::locate(const proto::QueryRequest& req, TimePoint) {
  const FileRecord* file = index_.lookup(req.query);
  if (file == nullptr) return Status{ErrorCode::kNotFound, "no file named or with id '" + req.query + "'"};
  proto::LocateReply reply{file->id, file->manifest, holder_infos(*file)};
  if (reply.holders.empty())
    return Status{ErrorCode::kUnavailable, "no live peer holds '" + file->manifest.name + "' (" + file->id.hex() + ")"};
  return reply;
}

Result<proto::ListReply> Broker::search(const proto::SearchRequest& req, TimePoint) {
  proto::ListReply reply;
  for (const FileRecord* f : index_.search(NamePattern(req.pattern), kMaxSearchResults))
    reply.files.push_back(summary(*f));
  return reply;
}

Result<proto::ListReply> Broker::list(const proto::Empty&, TimePoint now) { return search(proto::SearchRequest{}, now); }

Result<proto::StatReply> Broker::stat(const proto::QueryRequest& req, TimePoint) {
  const FileRecord* file = index_.lookup(req.query);
  if (file == nullptr) return Status{ErrorCode::kNotFound, "no file named or with id '" + req.query + "'"};
  return proto::StatReply{summary(*file), holder_infos(*file)};
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

Result<proto::StatusReply> Broker::status(const proto::Empty&, TimePoint) {
  proto::StatusReply reply;
  const IndexCounts c = index_.counts();
  for (const PeerRecord* p : registry_.live_peers()) {
    ++reply.peers;
    reply.capacity += p->capacity;
    reply.free_bytes += p->free_bytes;
    if (p->draining) ++reply.draining;
  }
  reply.files = c.files;
  reply.bytes = c.bytes;
  reply.stored_bytes = c.stored_bytes;
  reply.unavailable = c.unavailable;
  // Under-replicated as the policy means it: safe holders < min(k, live non-draining peers).
  const std::size_t eligible = registry_.live_non_draining();
  for (const FileRecord* f : index_.all_files())
    if (file_health(*f, index_.wanted_replicas(*f), eligible, registry_).under_replicated()) ++reply.under_replicated;
  reply.copies = static_cast<std::uint32_t>(orders_.copies());
  return reply;
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
  return proto::FileSummary{file.id,
                            file.manifest.name,
                            file.manifest.size,
                            file.manifest.chunk_count(),
                            index_.wanted_replicas(file),
                            static_cast<std::uint32_t>(file.holders.size())};
}

std::vector<proto::HolderInfo> Broker::holder_infos(const FileRecord& file) const {
  std::vector<proto::HolderInfo> out;
  for (const std::string& peer_id : file.holders) {
    // The index only holds live peers (see file_index.h); checked anyway so
    // an answer can never name a dead peer.
    const PeerRecord* p = registry_.peer(peer_id);
    if (p != nullptr && p->live()) out.push_back({peer_id, p->endpoint});
  }
  return out;
}

}  // namespace p2p::tracker
