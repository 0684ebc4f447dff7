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
    : ctx_(ctx), options_(std::move(options)), registry_(options_.expiry()), index_(options_.replicas) {}

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
  next_heartbeat_ = Clock::now() + options_.heartbeat;
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
  handle_departures(registry_.expire(now), "death");
  if (now < next_heartbeat_) return;
  for (const std::string& routing : registry_.routings()) {
    const auto frames = routing_frames(routing);
    Status s = codec::send_envelope(*socket_, kRouter, &frames, Command::kHeartbeat, 0,
                                    codec::encode(proto::HeartbeatBody{}), nullptr, kDontWait);
    // Not fatal: a service we cannot reach will simply expire.
    if (!s.ok()) P2P_DEBUG("heartbeat to %s dropped: %s", routing_text(routing).c_str(), s.to_string().c_str());
  }
  next_heartbeat_ = now + options_.heartbeat;
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
    handle_departures(registry_.expire(now), "death");
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
    case Command::kReplicated: {
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

void Broker::handle_departures(const std::vector<Departure>& gone, const char* how) {
  for (const Departure& d : gone) {
    if (!d.peer_gone) {
      P2P_INFO("%s peer=%s service=%s", how, d.peer_id.c_str(), d.service.c_str());
      continue;
    }
    const std::size_t files = index_.remove_peer(d.peer_id);
    P2P_INFO("%s peer=%s service=%s: peer is no longer live, %zu files lost a holder", how, d.peer_id.c_str(),
             d.service.c_str(), files);
  }
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
      handle_departures({*registry_.remove(routing)}, "drop");
      return send_disconnect(routing);
    }
    return reject(env, outcome.status());
  }
  if (outcome->restarted) {
    const std::size_t files = index_.remove_peer(body.peer_id);
    P2P_INFO("peer=%s storage reconnected: forgot its %zu files until it re-announces", body.peer_id.c_str(), files);
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
  handle_departures({*d}, "leave");
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
    ++added;
    if (h.new_file) ++fresh;
  }
  P2P_DEBUG("announce peer=%s files=%zu new=%zu skipped=%zu", service.peer_id.c_str(), added, fresh,
            body.files.size() - added);
}

void Broker::on_replicated(const codec::Envelope& env, const ServiceKey& service) {
  proto::ReplicatedBody body;
  if (Status s = codec::decode(env.body, &body); !s.ok()) return reject(env, s);
  // No repair policy yet (docs/protocol.md 5.5): the copy shows up via ANNOUNCE.
  P2P_INFO("replicated peer=%s file=%s code=%u %s", service.peer_id.c_str(), body.file_id.hex().c_str(), body.code,
           body.message.c_str());
}

// ---- client side ----------------------------------------------------------

Result<proto::PlaceReply> Broker::place(const proto::PlaceRequest& req, TimePoint) {
  if (Status s = validate_name(req.name); !s.ok()) return s;
  const std::uint32_t k = std::min(req.replicas != 0 ? req.replicas : options_.replicas, limits::kMaxReplicas);
  std::vector<PlacementCandidate> candidates;
  for (const PeerRecord* p : registry_.live_peers()) candidates.push_back({p->peer_id, p->endpoint, p->free_bytes});
  auto chosen = choose_peers(std::move(candidates), req.size, k);
  if (!chosen.ok()) return chosen.status();
  proto::PlaceReply reply;
  for (const auto& c : chosen.value()) reply.peers.push_back({c.peer_id, c.endpoint});
  reply.replicas = k;
  if (const FileRecord* existing = index_.find_name(req.name)) {
    reply.exists = true;
    reply.existing_file_id = existing->id;
  }
  P2P_DEBUG("place name=%s size=%llu k=%u -> %zu peers", req.name.c_str(), ull(req.size), k, reply.peers.size());
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
  }
  reply.files = c.files;
  reply.bytes = c.bytes;
  reply.stored_bytes = c.stored_bytes;
  reply.under_replicated = c.under_replicated;
  reply.unavailable = c.unavailable;
  return reply;
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
