#include "common/chunk_fetcher.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/codec.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/sockets.h"

namespace p2p {

namespace {

// A GET_CHUNK in flight.
struct Request {
  std::uint64_t index;
  Clock::time_point sent;
};

struct Holder {
  proto::HolderInfo info;
  std::optional<HolderConnection> owned;  // the connection when no pool lends one
  HolderConnection* conn = nullptr;       // null until it is first asked for a chunk, and once dropped
  bool dropped = false;
  std::unordered_map<std::uint64_t, Request> in_flight;  // by seq; may hold chunks already got elsewhere
  std::unordered_set<std::uint64_t> lacks;                     // chunks it answered not_found for
  Clock::time_point deadline;  // dropped if nothing arrives by then while requests are in flight
  std::size_t unsolicited = 0;  // replies to no request in flight

  // May still supply chunks: not dropped (connected or not yet).
  bool live() const { return !dropped; }
  bool has_room(std::size_t window) const { return live() && in_flight.size() < window; }
  std::string label() const { return "peer " + info.peer_id + " at " + info.endpoint; }
};

class Fetcher {
 public:
  Fetcher(zmq::context_t& ctx, const Manifest& manifest, const FetchOptions& options, ChunkSink& sink,
          const FetchProgress& progress)
      : ctx_(ctx), manifest_(manifest), options_(options), sink_(sink), progress_(progress) {}

  Status run(const std::vector<std::uint64_t>& indexes, const std::vector<proto::HolderInfo>& holders) {
    asked_.assign(manifest_.chunk_count(), 0);
    last_asked_.assign(manifest_.chunk_count(), Clock::time_point{});
    wanted_.assign(manifest_.chunk_count(), false);
    for (std::uint64_t index : indexes) {
      if (index >= manifest_.chunk_count())
        return {ErrorCode::kBadRequest, "chunk " + std::to_string(index) + " is not in the manifest"};
      if (wanted_[index]) continue;  // asked for twice: fetched once
      wanted_[index] = true;
      pending_.push_back(index);
    }
    remaining_ = pending_.size();
    // Holders are connected when first given a chunk (fill_window), not
    // here: a small file's chunks all fit the first holder's window, and a
    // connection to each other holder would cost a TCP and ZMTP handshake
    // that carries nothing (~0.4 ms a holder on loopback).
    holders_.resize(holders.size());
    for (std::size_t i = 0; i < holders.size(); ++i) holders_[i].info = holders[i];
    Status s = loop();
    for (Holder& h : holders_) release(h, h.in_flight.empty());
    return s;
  }

 private:
  Status loop() {
    while (true) {
      if (options_.cancelled && options_.cancelled())
        return {ErrorCode::kShuttingDown, "fetch of '" + manifest_.name + "' cancelled"};
      if (changed_) {
        if (Status s = check_servable(); !s.ok()) return s;
        changed_ = false;
      }
      fill_windows();
      if (remaining_ == 0) return Status::Ok();
      if (Status s = wait_and_receive(); !s.ok()) return s;
    }
  }

  // Connects `h`; false (and `h` dropped) when it cannot be.
  bool connect(Holder& h) {
    if (options_.connections) {
      Result<HolderConnection*> c = options_.connections->acquire(h.info.endpoint);
      if (c.ok()) {
        h.conn = c.value();
        return true;
      }
      drop(h, c.status().message());
      return false;
    }
    try {
      h.owned.emplace(HolderConnection::open(ctx_, h.info.endpoint));
      h.conn = &*h.owned;
      return true;
    } catch (const zmq::error_t& e) {
      drop(h, std::string("cannot connect: ") + e.what());
      return false;
    }
  }

  // Gives the connection back (to the pool) or closes it.
  void release(Holder& h, bool reusable) {
    if (!h.conn) return;
    h.conn = nullptr;
    if (options_.connections)
      options_.connections->release(h.info.endpoint, reusable);
    else
      h.owned.reset();
  }

  // A request for `index` ended without its bytes: the chunk goes back to the
  // front of the queue, unless it is got already or still asked of another.
  void requeue(std::uint64_t index) {
    if (wanted_[index] && asked_[index] == 0) pending_.push_front(index);
  }

  // CHECK_CHUNK to a holder about to be dropped for wrong bytes of `index`,
  // so that it checks its copy from disk (docs/protocol.md 5.3). Nothing
  // waits for the answer; the socket lingers kCheckChunkLinger when the drop
  // closes it, so the report leaves first. Best effort: a report that
  // cannot be sent is only logged (the holder's scrub finds the chunk later).
  void report_wrong_bytes(Holder& h, std::uint64_t index) {
    try {
      h.conn->socket.set(zmq::sockopt::linger, static_cast<int>(kCheckChunkLinger.count()));
    } catch (const zmq::error_t& e) {
      P2P_WARN("cannot set linger to report wrong bytes to %s: %s", h.label().c_str(), e.what());
    }
    Status s = codec::send_envelope(h.conn->socket, codec::Layout::kDealer, nullptr, proto::Command::kCheckChunk,
                                    h.conn->next_seq++, codec::encode(proto::ChunkRef{manifest_.chunks[index]}),
                                    nullptr, zmq::send_flags::dontwait);
    if (!s.ok()) P2P_WARN("cannot report wrong bytes to %s: %s", h.label().c_str(), s.message().c_str());
  }

  // Forgets a holder: its outstanding chunks go back to the front of the queue.
  void drop(Holder& h, const std::string& why) {
    last_failure_ = h.label() + ": " + why;
    P2P_WARN("dropping %s", last_failure_.c_str());
    for (const auto& [seq, request] : h.in_flight) --asked_[request.index];
    for (const auto& [seq, request] : h.in_flight) requeue(request.index);
    h.in_flight.clear();
    h.dropped = true;
    release(h, false);
    changed_ = true;
  }

  // kUnavailable for the lowest pending chunk that every live holder lacks.
  // In-flight chunks are always with a live holder that may have them.
  Status check_servable() const {
    std::optional<std::uint64_t> first;
    for (std::uint64_t index : pending_) {
      bool servable = std::any_of(holders_.begin(), holders_.end(),
                                  [&](const Holder& h) { return h.live() && !h.lacks.count(index); });
      if (!servable && (!first || index < *first)) first = index;
    }
    if (!first) return Status::Ok();
    std::string why = last_failure_.empty() ? "no holder has it" : "last failure: " + last_failure_;
    return {ErrorCode::kUnavailable, "no live holder can supply chunk " + std::to_string(*first) + " of '" +
                                         manifest_.name + "' (" + why + ")"};
  }

  // Takes the first pending chunk `h` does not lack, if any.
  std::optional<std::uint64_t> take_for(const Holder& h) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (h.lacks.count(*it)) continue;
      std::uint64_t index = *it;
      pending_.erase(it);
      return index;
    }
    return std::nullopt;
  }

  // Every holder takes what is pending first; only then may an idle one be
  // asked for another's straggler. One `now` for the whole pass: read per
  // holder, a preemption between two reads could make a straggler due for a
  // later holder but not an earlier one, and the hedge would skip a holder.
  void fill_windows() {
    for (Holder& h : holders_) fill_window(h);
    if (!hedging()) return;
    const Clock::time_point now = Clock::now();
    for (Holder& h : holders_)
      while (h.has_room(options_.window)) {
        std::optional<Request> late = straggler_for(h, now);
        if (!late) break;
        const Clock::time_point asked_before = last_asked_[late->index];  // ask() moves it to now
        if (!ask(h, late->index)) break;
        P2P_INFO("asked %s too for chunk %llu of '%s', unanswered for %lld ms since it was last asked",
                 h.label().c_str(), static_cast<unsigned long long>(late->index), manifest_.name.c_str(),
                 static_cast<long long>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked_before).count()));
      }
  }

  // Asks `h` for pending chunks until its window is full or nothing is left for it.
  void fill_window(Holder& h) {
    while (h.has_room(options_.window)) {
      std::optional<std::uint64_t> index = take_for(h);
      if (!index) break;
      if (!ask(h, *index)) {
        pending_.push_front(*index);
        break;
      }
    }
  }

  // How old a request must be before it is also asked of another holder.
  Clock::duration hedge_delay() const { return std::max<Clock::duration>(options_.hedge_after, 4 * slowest_reply_); }
  bool hedging() const { return options_.hedge_after < options_.chunk_timeout; }

  static bool asks(const Holder& h, std::uint64_t index) {
    return std::any_of(h.in_flight.begin(), h.in_flight.end(), [&](const auto& r) { return r.second.index == index; });
  }

  // Calls `f(request, hedge_time)` for each request of another holder that
  // `h` could be asked too: still wanted, not asked of `h` already, not one
  // `h` lacks. `hedge_time` is when it becomes a straggler: hedge_delay after
  // its latest ask, so a chunk is asked of one more holder per hedge_delay
  // while none answers (two hung holders of three cost two of them, not the
  // chunk timeout), and never of two at the same moment.
  template <class F>
  void for_each_hedgeable(const Holder& h, F f) const {
    for (const Holder& other : holders_) {
      if (&other == &h) continue;
      for (const auto& [seq, request] : other.in_flight)
        if (wanted_[request.index] && !h.lacks.count(request.index) && !asks(h, request.index))
          f(request, last_asked_[request.index] + hedge_delay());
    }
  }

  // The straggler `h` could be asked too that has waited longest, if any is due by `now`.
  std::optional<Request> straggler_for(const Holder& h, Clock::time_point now) const {
    std::optional<Request> first;
    Clock::time_point first_due = Clock::time_point::max();
    for_each_hedgeable(h, [&](const Request& r, Clock::time_point due) {
      if (due <= now && due < first_due) {
        first = r;
        first_due = due;
      }
    });
    return first;
  }

  // When the next request becomes a straggler that some holder with room
  // could be asked too; max() if none will.
  Clock::time_point next_hedge() const {
    Clock::time_point next = Clock::time_point::max();
    if (!hedging()) return next;
    for (const Holder& h : holders_)
      if (h.has_room(options_.window))
        for_each_hedgeable(h, [&](const Request&, Clock::time_point due) { next = std::min(next, due); });
    return next;
  }

  // Sends GET_CHUNK for `index` to `h`, connecting it first if needed.
  // False only when it cannot be connected (`h` is then dropped).
  bool ask(Holder& h, std::uint64_t index) {
    if (!h.conn && !connect(h)) return false;
    if (h.in_flight.empty()) h.deadline = Clock::now() + options_.chunk_timeout;
    std::uint64_t seq = h.conn->next_seq++;
    h.in_flight.emplace(seq, Request{index, Clock::now()});
    ++asked_[index];
    last_asked_[index] = Clock::now();
    Status s = codec::send_envelope(h.conn->socket, codec::Layout::kDealer, nullptr, proto::Command::kGetChunk, seq,
                                    codec::encode(proto::ChunkRef{manifest_.chunks[index]}), nullptr,
                                    zmq::send_flags::dontwait);
    if (!s.ok()) drop(h, "cannot send: " + s.message());
    return true;
  }

  Status wait_and_receive() {
    // Per polled holder: its DEALER, then its watch if it has one.
    std::vector<zmq::pollitem_t> items;
    std::vector<Holder*> polled;
    Clock::time_point deadline = next_hedge();
    for (Holder& h : holders_) {
      if (!h.conn || h.in_flight.empty()) continue;
      items.push_back({h.conn->socket.handle(), 0, ZMQ_POLLIN, 0});
      if (void* watch = h.conn->watch.handle()) items.push_back({watch, 0, ZMQ_POLLIN, 0});
      polled.push_back(&h);
      deadline = std::min(deadline, h.deadline);
    }
    if (items.empty()) {  // unreachable while check_servable holds; never spin
      Status s = check_servable();
      return s.ok() ? Status{ErrorCode::kInternal, "fetch stalled with chunks pending"} : s;
    }
    std::chrono::milliseconds wait = until(deadline);
    if (options_.cancelled) wait = std::min(wait, kCancelCheckInterval);
    zmq::poll(items, wait);
    std::size_t item = 0;
    for (Holder* hp : polled) {
      Holder& h = *hp;
      const bool readable = items[item++].revents & ZMQ_POLLIN;
      const bool watched = h.conn->watch.handle() != nullptr && (items[item++].revents & ZMQ_POLLIN);
      // Replies that arrived before the connection closed are taken first.
      if (readable) {
        if (Status s = receive_all(h); !s.ok()) return s;
      }
      // Also with nothing in flight: later requests would only queue for a reconnect.
      if (watched && h.conn && h.conn->watch.disconnected()) drop(h, "connection closed or refused");
      if (h.conn && !h.in_flight.empty() && Clock::now() >= h.deadline)
        drop(h, "no reply within " + std::to_string(options_.chunk_timeout.count()) + " ms");
    }
    return Status::Ok();
  }

  // Handles every reply waiting on `h`; fails only when the sink fails.
  Status receive_all(Holder& h) {
    while (h.conn) {
      codec::Envelope env;
      Status s = codec::recv_envelope(h.conn->socket, codec::Layout::kDealer, &env);
      if (s.code() == ErrorCode::kTimeout) return Status::Ok();  // nothing more waiting
      if (!s.ok()) {
        drop(h, "malformed reply: " + s.message());
        return Status::Ok();
      }
      auto it = h.in_flight.find(env.seq);
      if (it == h.in_flight.end()) {
        // Not asked for: ignored, up to a bound, since a holder streaming
        // them would keep this loop from its timeouts and cancel checks.
        if (++h.unsolicited > kMaxUnsolicitedReplies)
          drop(h, "sent " + std::to_string(h.unsolicited) + " replies to no request");
        continue;
      }
      const Request request = it->second;
      h.in_flight.erase(it);
      --asked_[request.index];
      h.deadline = Clock::now() + options_.chunk_timeout;
      // Ask for the next chunk before verifying this one: the holder then
      // reads and sends it while this thread spends ~0.6 ms on SHA-256.
      fill_window(h);
      if (!wanted_[request.index]) continue;  // the other holder asked was first
      if (Status r = on_reply(h, request, env); !r.ok()) return r;
    }
    return Status::Ok();
  }

  Status on_reply(Holder& h, const Request& request, const codec::Envelope& env) {
    const std::uint64_t index = request.index;
    const std::string chunk = "chunk " + std::to_string(index);
    if (env.cmd() == proto::Command::kError) {
      Status err = codec::error_from(env);
      requeue(index);
      if (err.code() == ErrorCode::kNotFound) {
        h.lacks.insert(index);  // only this chunk; the holder stays useful
        changed_ = true;
      } else {
        drop(h, chunk + ": " + err.to_string());
      }
      return Status::Ok();
    }
    const std::uint32_t length = manifest_.chunk_length(index);
    if (env.cmd() != proto::Command::kOk || !env.has_data || env.data.size() != length) {
      requeue(index);
      drop(h, "sent a bad reply for " + chunk);
      return Status::Ok();
    }
    if (sha256(env.data.data(), env.data.size()) != manifest_.chunks[index]) {
      requeue(index);
      report_wrong_bytes(h, index);
      drop(h, "sent wrong bytes for " + chunk + " (told it so)");
      return Status::Ok();
    }
    wanted_[index] = false;
    --remaining_;
    slowest_reply_ = std::max(slowest_reply_, Clock::now() - request.sent);
    if (Status s = sink_.write(index, env.data.data(), env.data.size()); !s.ok()) return s;
    if (progress_) progress_(length);
    return Status::Ok();
  }

  zmq::context_t& ctx_;
  const Manifest& manifest_;
  const FetchOptions& options_;
  ChunkSink& sink_;
  const FetchProgress& progress_;

  std::deque<std::uint64_t> pending_;  // chunks not yet asked of anyone
  std::vector<bool> wanted_;           // by chunk index: asked for by the caller and not got yet
  std::vector<std::uint32_t> asked_;   // by chunk index: holders it is in flight at
  std::vector<Clock::time_point> last_asked_;  // by chunk index: when it was last asked of a holder
  std::size_t remaining_ = 0;          // wanted chunks
  Clock::duration slowest_reply_{0};   // longest a good reply took, request to arrival
  std::vector<Holder> holders_;
  std::string last_failure_;
  bool changed_ = true;  // a holder was dropped or lacks a chunk: re-check what is servable
};

}  // namespace

HolderConnection HolderConnection::open(zmq::context_t& ctx, const std::string& endpoint) {
  zmq::socket_t socket = make_socket(ctx, zmq::socket_type::dealer, limits::kMaxDataMessage);
  DisconnectWatch watch = connect_watched(ctx, socket, endpoint);
  return HolderConnection{std::move(socket), 1, std::move(watch)};
}

Status fetch_chunks(zmq::context_t& ctx, const Manifest& manifest, const std::vector<std::uint64_t>& indexes,
                    const std::vector<proto::HolderInfo>& holders, const FetchOptions& options, ChunkSink& sink,
                    const FetchProgress& progress) {
  try {
    Fetcher fetcher(ctx, manifest, options, sink, progress);
    return fetcher.run(indexes, holders);
  } catch (const std::exception& e) {
    return {ErrorCode::kInternal, std::string("chunk fetch: ") + e.what()};
  }
}

}  // namespace p2p
