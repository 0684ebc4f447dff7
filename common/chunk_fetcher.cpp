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

struct Holder {
  proto::HolderInfo info;
  std::optional<HolderConnection> owned;  // the connection when no pool lends one
  HolderConnection* conn = nullptr;       // null until it is first asked for a chunk, and once dropped
  bool dropped = false;
  std::unordered_map<std::uint64_t, std::uint64_t> in_flight;  // seq -> chunk index
  std::unordered_set<std::uint64_t> lacks;                     // chunks it answered not_found for
  Clock::time_point deadline;  // dropped if nothing arrives by then while requests are in flight
  std::size_t unsolicited = 0;  // replies to no request in flight

  // May still supply chunks: not dropped (connected or not yet).
  bool live() const { return !dropped; }
  std::string label() const { return "peer " + info.peer_id + " at " + info.endpoint; }
};

class Fetcher {
 public:
  Fetcher(zmq::context_t& ctx, const Manifest& manifest, const FetchOptions& options, ChunkSink& sink,
          const FetchProgress& progress)
      : ctx_(ctx), manifest_(manifest), options_(options), sink_(sink), progress_(progress) {}

  Status run(const std::vector<std::uint64_t>& indexes, const std::vector<proto::HolderInfo>& holders) {
    for (std::uint64_t index : indexes) {
      if (index >= manifest_.chunk_count())
        return {ErrorCode::kBadRequest, "chunk " + std::to_string(index) + " is not in the manifest"};
      pending_.push_back(index);
    }
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
      if (pending_.empty() && in_flight_total() == 0) return Status::Ok();
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

  // Forgets a holder: its outstanding chunks go back to the front of the queue.
  void drop(Holder& h, const std::string& why) {
    last_failure_ = h.label() + ": " + why;
    P2P_WARN("dropping %s", last_failure_.c_str());
    for (const auto& [seq, index] : h.in_flight) pending_.push_front(index);
    h.in_flight.clear();
    h.dropped = true;
    release(h, false);
    changed_ = true;
  }

  std::size_t in_flight_total() const {
    std::size_t n = 0;
    for (const Holder& h : holders_) n += h.in_flight.size();
    return n;
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

  void fill_windows() {
    for (Holder& h : holders_) fill_window(h);
  }

  void fill_window(Holder& h) {
    while (h.live() && h.in_flight.size() < options_.window) {
      std::optional<std::uint64_t> index = take_for(h);
      if (!index) break;
      if (!h.conn && !connect(h)) {
        pending_.push_front(*index);
        break;
      }
      if (h.in_flight.empty()) h.deadline = Clock::now() + options_.chunk_timeout;
      std::uint64_t seq = h.conn->next_seq++;
      h.in_flight.emplace(seq, *index);
      Status s = codec::send_envelope(h.conn->socket, codec::Layout::kDealer, nullptr, proto::Command::kGetChunk, seq,
                                      codec::encode(proto::ChunkRef{manifest_.chunks[*index]}), nullptr,
                                      zmq::send_flags::dontwait);
      if (!s.ok()) drop(h, "cannot send: " + s.message());
    }
  }

  Status wait_and_receive() {
    // Per polled holder: its DEALER, then its watch if it has one.
    std::vector<zmq::pollitem_t> items;
    std::vector<Holder*> polled;
    Clock::time_point deadline = Clock::time_point::max();
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
      std::uint64_t index = it->second;
      h.in_flight.erase(it);
      h.deadline = Clock::now() + options_.chunk_timeout;
      // Ask for the next chunk before verifying this one: the holder then
      // reads and sends it while this thread spends ~0.6 ms on SHA-256.
      fill_window(h);
      if (Status r = on_reply(h, index, env); !r.ok()) return r;
    }
    return Status::Ok();
  }

  Status on_reply(Holder& h, std::uint64_t index, const codec::Envelope& env) {
    const std::string chunk = "chunk " + std::to_string(index);
    if (env.cmd() == proto::Command::kError) {
      Status err = codec::error_from(env);
      pending_.push_front(index);
      if (err.code() == ErrorCode::kNotFound) {
        h.lacks.insert(index);  // only this chunk; the holder stays useful
        changed_ = true;
      } else {
        drop(h, chunk + ": " + err.to_string());
      }
      return Status::Ok();
    }
    const std::uint32_t length = manifest_.chunk_length(index);
    if (env.cmd() != proto::Command::kOk || !env.has_data || env.data.size() != length ||
        sha256(env.data.data(), env.data.size()) != manifest_.chunks[index]) {
      pending_.push_front(index);
      drop(h, "sent a bad reply or wrong bytes for " + chunk);
      return Status::Ok();
    }
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
