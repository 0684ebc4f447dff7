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
  started_ = Clock::now();
  policy_.safe_until = started_ + options_.repair_grace;  // or sooner, once the index is complete
  index_.pause_short_files();  // nothing plans in safe mode; sorted once when it ends
  policy_.new_file_settle = std::min<Clock::duration>(options_.heartbeat * options_.liveness, options_.repair_grace);
  P2P_INFO("safe mode: no repairs, trims or releases until the index is complete, or for %lld ms (the repair "
           "grace; longer while the rejoin window of %lld ms lasts or peers announce)",
           static_cast<long long>(options_.repair_grace.count()), static_cast<long long>(options_.rejoin().count()));
  next_heartbeat_ = started_ + options_.heartbeat;
  last_progress_ = started_;
  try {
    while (!stop_.load()) {
      const TimePoint now = Clock::now();
      mark_progress(now);
      run_timers(now);
      const TimePoint replan = copy_done_since_tick() ? next_plan_ : TimePoint::max();
      // A departure in progress: only look for messages, then take its next step.
      const TimePoint wake = index_.departing() ? now
                                                : std::min({next_heartbeat_, registry_.next_expiry(), replan,
                                                            now + kStopCheckInterval});
      // Round up: rounding down would spin on poll(0) for the last millisecond.
      const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration::zero()));
      std::vector<zmq::pollitem_t> items{{socket_->handle(), 0, ZMQ_POLLIN, 0}};
      const TimePoint poll_started = Clock::now();
      bool interrupted = false;
      try {
        zmq::poll(items, timeout);
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        interrupted = true;
      }
      // Returning well after the timeout means the process did not run: the
      // services' heartbeats may still be in the kernel, not yet readable.
      mark_progress(Clock::now(), poll_started + timeout);
      if (interrupted) continue;
      // Read even after a timeout: finding the socket empty is what moves
      // drained_at_, and with it the expiry of silent services.
      read_messages();
      take_off_departed();
    }
  } catch (const std::exception& e) {
    result = Status{ErrorCode::kInternal, std::string("broker loop failed: ") + e.what()};
    P2P_ERROR("%s", result.message().c_str());
  }
  socket_.reset();  // closed by the thread that used it
  return result;
}

TimePoint Broker::silence_known_until(TimePoint now) const {
  return std::max(drained_at_, now - kMaxUnreadWindows * options_.expiry());
}

void Broker::run_timers(TimePoint now) {
  handle_departures(registry_.expire(silence_known_until(now)), "death", now);
  const bool heartbeat_due = now >= next_heartbeat_;
  // A copy done freed its target's slot: fill it now, not a heartbeat later,
  // or a repair of many small files runs at slots per heartbeat.
  const bool replan_due = copy_done_since_tick() && now >= next_plan_;
  if (!heartbeat_due && !replan_due) return;
  if (heartbeat_due) {
    for (const std::string& routing : registry_.routings()) {
      const auto frames = routing_frames(routing);
      Status s = codec::send_envelope(*socket_, kRouter, &frames, Command::kHeartbeat, 0,
                                      codec::encode(proto::HeartbeatBody{}), nullptr, kDontWait);
      // Not fatal: a service we cannot reach will simply expire.
      if (!s.ok()) P2P_DEBUG("heartbeat to %s dropped: %s", routing_text(routing).c_str(), s.to_string().c_str());
    }
    next_heartbeat_ = now + options_.heartbeat;
  }
  try {
    replicate(now);
  } catch (const std::exception& e) {
    // A bug, not bad input: skip this tick's orders rather than stop serving.
    P2P_ERROR("replication tick failed: %s", e.what());
  }
  copies_done_at_tick_ = orders_.copies_done();
  mark_progress(Clock::now());
}

bool Broker::mark_progress(TimePoint now, TimePoint waited_until) {
  const Clock::duration away = now - std::max(last_progress_, waited_until);
  last_progress_ = now;
  if (away < options_.heartbeat / kLongWorkShare) return false;
  registry_.excuse(away);
  excused_stretches_.fetch_add(1);
  P2P_DEBUG("%lld ms without reading (busy, or not running): not counted as any service's silence",
            static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(away).count()));
  return true;
}

void Broker::read_messages() {
  const TimePoint until = Clock::now() + options_.heartbeat / kLongWorkShare;
  for (int i = 0; i < kMaxBatch; ++i) {
    codec::Envelope env;
    const TimePoint before = Clock::now();
    mark_progress(before);  // drained_at_ may become `before`: a stall just ahead of it is excused first
    const Status s = codec::recv_envelope(*socket_, kRouter, &env, zmq::recv_flags::dontwait);
    if (s.code() == ErrorCode::kTimeout) {
      drained_at_ = before;  // everything sent before this has been read
      handle_departures(registry_.expire(drained_at_), "death", before);
      return;
    }
    if (s.code() == ErrorCode::kInternal) {
      P2P_ERROR("receive failed: %s", s.message().c_str());
      return;
    }
    const TimePoint now = Clock::now();
    mark_progress(now);
    // Expire first, so a peer known dead is never in an answer.
    handle_departures(registry_.expire(silence_known_until(now)), "death", now);
    if (!s.ok()) {
      reject(env, s);  // malformed frames or wrong version
      continue;
    }
    const std::string routing = routing_key(env.routing);
    heap_.advise();  // what the last message grew the heap by, before this one touches it
    try {
      handle(env, routing, now);
    } catch (const std::exception& e) {
      // A bug, not bad input: answer rather than let it escape the loop.
      reject(env, {ErrorCode::kInternal, std::string("internal error: ") + e.what()});
    }
    // The services wait for our heartbeats too: send the ones now due
    // before reading on (the peers count the tracker's silence as we count
    // theirs), after one long piece of work or many short ones.
    const TimePoint after = Clock::now();
    if (mark_progress(after) || after >= until) return;
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
    case Command::kLocate:
      return serve_with<proto::QueryRequest>(env, [&](const proto::QueryRequest& r) { return locate(r, routing, now); });
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
  serve_with<Request>(env, [&](const Request& r) { return (this->*handler)(r, now); });
}

template <class Request, class Handler>
void Broker::serve_with(const codec::Envelope& env, Handler handler) {
  Request request;
  if (Status s = codec::decode(env.body, &request); !s.ok()) return reject(env, s);
  auto reply = handler(request);
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
  if (!index_.departing()) {
    departures_since_ = now;
    departed_files_ = 0;
  }
  const std::size_t files = index_.start_departure(peer_id, now);
  departed_files_ += files;
  const std::size_t orders = orders_.forget_peer(peer_id);
  released_.erase(peer_id);
  unconfirmed_.forget(peer_id);
  announcing_.erase(peer_id);
  P2P_INFO("%s; %zu files lost a holder (repair after %lld ms), %zu orders to it forgotten", why.c_str(), files,
           static_cast<long long>(options_.repair_grace.count()), orders);
}

void Broker::take_off_departed() {
  if (!index_.departing()) return;
  index_.remove_departed(kDepartureStep);
  mark_progress(Clock::now());
  if (index_.departing()) return;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - departures_since_);
  P2P_INFO("departures done: %llu files no longer list a departed peer, %lld ms after the first departure",
           ull(departed_files_), static_cast<long long>(took.count()));
}

void Broker::keep_holdings(const std::string& peer_id) {
  std::vector<Hash> files;
  for (const FileRecord* f : index_.held_by(peer_id)) files.push_back(f->id);
  unconfirmed_.start(peer_id, files);
  const std::size_t orders = orders_.forget_peer(peer_id);
  released_.erase(peer_id);
  P2P_INFO("peer=%s storage reconnected (same process); %zu files kept as held until its announcement completes, "
           "%zu orders to it forgotten",
           peer_id.c_str(), files.size(), orders);
}

void Broker::drop_unconfirmed(const std::string& peer_id) {
  const std::vector<Hash> left = unconfirmed_.finish(peer_id);
  std::size_t dropped = 0;
  for (const Hash& id : left)
    if (index_.remove_holding(id, peer_id)) ++dropped;
  if (dropped != 0)
    P2P_INFO("peer=%s announced all it holds; %zu files it held before reconnecting lost it as a holder",
             peer_id.c_str(), dropped);
}

}  // namespace p2p::tracker
