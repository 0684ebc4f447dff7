#include "services/peer/next_peers.h"

#include <algorithm>

#include "common/limits.h"

namespace p2p::peer {

namespace {

// DEALERs a worker keeps open; one with nothing waiting is closed to make
// room, so a client naming many endpoints cannot make a worker hoard sockets.
constexpr std::size_t kMaxLinks = 32;
// Replies read from one socket per collect(): the others and the worker's
// own requests are not starved by one busy next peer.
constexpr int kReadBatch = 64;

}  // namespace

Status forward_failure(const std::string& endpoint, const std::string& why) {
  return {ErrorCode::kForwardFailed, endpoint + ": " + why, endpoint};
}

NextPeers::NextPeers(zmq::context_t& ctx, std::chrono::milliseconds timeout) : ctx_(ctx), timeout_(timeout) {}

bool NextPeers::has_waiting(const std::string& endpoint) const {
  for (const auto& [seq, w] : waiting_)
    if (w.endpoint == endpoint) return true;
  return false;
}

Result<zmq::socket_t*> NextPeers::link_to(const std::string& endpoint) {
  if (auto it = links_.find(endpoint); it != links_.end()) return &it->second.socket;
  if (links_.size() >= kMaxLinks) {
    auto idle = links_.begin();
    while (idle != links_.end() && has_waiting(idle->first)) ++idle;
    if (idle == links_.end())
      return forward_failure(endpoint, std::to_string(kMaxLinks) + " next peers busy at once");
    links_.erase(idle);
  }
  try {
    zmq::socket_t s = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxDataPlaneMessage);
    DisconnectWatch watch = connect_watched(ctx_, s, endpoint);
    return &links_.emplace(endpoint, Link{std::move(s), std::move(watch)}).first->second.socket;
  } catch (const zmq::error_t& e) {
    return forward_failure(endpoint, e.what());
  }
}

Result<std::uint64_t> NextPeers::send(const std::string& endpoint, proto::Command command, zmq::message_t body,
                                      zmq::message_t* data, std::vector<std::string> after) {
  Result<zmq::socket_t*> link = link_to(endpoint);
  if (!link.ok()) return link.status();
  const std::uint64_t seq = ++seq_;
  Status s = codec::send_envelope(*link.value(), codec::Layout::kDealer, nullptr, command, seq,
                                  std::move(body), data, zmq::send_flags::dontwait);
  if (!s.ok()) {
    // A full queue: the next peer reads nothing, and its other requests are
    // answered (by the next collect) rather than at their timeouts. The
    // socket is closed too because a send that failed after its first frame
    // would leave a torn message in it.
    drop(endpoint, s.to_string(), dropped_);
    return forward_failure(endpoint, s.to_string());
  }
  const std::chrono::milliseconds wait = timeout_ * static_cast<long>(1 + after.size());
  waiting_.emplace(seq, Waiting{endpoint, std::move(after), Clock::now() + wait, wait});
  return seq;
}

void NextPeers::add_poll_items(std::vector<zmq::pollitem_t>& items) {
  polled_.clear();
  for (auto& [endpoint, link] : links_) {
    items.push_back({link.socket.handle(), 0, ZMQ_POLLIN, 0});
    void* const watch = link.watch.handle();
    if (watch != nullptr) items.push_back({watch, 0, ZMQ_POLLIN, 0});
    polled_.push_back({endpoint, watch != nullptr});
  }
}

Clock::time_point NextPeers::next_deadline() const {
  if (!dropped_.empty()) return Clock::now();
  return waiting_.empty() ? Clock::time_point::max() : waiting_.begin()->second.deadline;
}

void NextPeers::answer(std::map<std::uint64_t, Waiting>::iterator it, Result<codec::Envelope> reply,
                       std::vector<Answer>& out) {
  out.push_back(Answer{it->first, it->second.endpoint, std::move(reply)});
  waiting_.erase(it);
}

void NextPeers::drop(const std::string& endpoint, const std::string& why, std::vector<Answer>& out) {
  links_.erase(endpoint);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    auto next = std::next(it);
    if (it->second.endpoint == endpoint) answer(it, forward_failure(endpoint, why), out);
    it = next;
  }
}

void NextPeers::collect(const std::vector<zmq::pollitem_t>& items, std::size_t first, Clock::time_point now,
                        std::vector<Answer>& out) {
  for (Answer& a : dropped_) out.push_back(std::move(a));
  dropped_.clear();
  std::size_t item = first;
  for (const Polled& polled : polled_) {
    if (item >= items.size()) break;
    const bool readable = items[item++].revents & ZMQ_POLLIN;
    const bool watched = polled.watched && item < items.size() && (items[item++].revents & ZMQ_POLLIN);
    const std::string& endpoint = polled.endpoint;
    // Replies that arrived before the connection closed are taken first.
    if (readable) read_replies(endpoint, out);
    if (!watched) continue;
    auto link = links_.find(endpoint);
    // Closed or refused: what waits on it can get no reply, and a fresh
    // link fails fast where this one would queue for a reconnect.
    if (link != links_.end() && link->second.watch.disconnected()) drop(endpoint, "connection closed or refused", out);
  }
  while (!waiting_.empty() && waiting_.begin()->second.deadline <= now) {
    auto it = waiting_.begin();
    const std::string why = "no reply within " + std::to_string(it->second.wait.count()) + " ms";
    answer(it, forward_failure(it->second.endpoint, why), out);
  }
}

void NextPeers::read_replies(const std::string& endpoint, std::vector<Answer>& out) {
  for (int n = 0; n < kReadBatch; ++n) {
    auto link = links_.find(endpoint);
    if (link == links_.end()) break;
    codec::Envelope reply;
    Status s = codec::recv_envelope(link->second.socket, codec::Layout::kDealer, &reply);
    if (s.code() == ErrorCode::kTimeout) break;
    if (!s.ok()) {
      drop(endpoint, "bad reply: " + s.to_string(), out);
      break;
    }
    auto it = waiting_.find(reply.seq);
    if (it == waiting_.end() || it->second.endpoint != endpoint) continue;  // answered already, by its timeout
    if (reply.cmd() == proto::Command::kError) {
      // A forward failure further on names the peer that failed; any other
      // error, or a blame of a peer the request never went to, is the next
      // peer's own.
      const Status theirs = codec::error_from(reply);
      const std::vector<std::string>& after = it->second.after;
      const bool further = theirs.code() == ErrorCode::kForwardFailed &&
                           std::find(after.begin(), after.end(), theirs.failed_endpoint()) != after.end();
      answer(it,
             Status{ErrorCode::kForwardFailed, endpoint + ": " + theirs.to_string(),
                    further ? theirs.failed_endpoint() : endpoint},
             out);
    } else if (reply.cmd() != proto::Command::kOk) {
      answer(it, forward_failure(endpoint, "unexpected reply command"), out);
    } else {
      answer(it, std::move(reply), out);
    }
  }
}

}  // namespace p2p::peer
