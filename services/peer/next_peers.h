// NextPeers: a transfer worker's DEALERs to the next peers of its write
// pipelines, and the requests it sent them that still wait for an answer.
//
// A worker forwards a PUT_CHUNK or COMMIT and goes on serving other requests
// while the next peer works; the answer comes back here, matched by seq. A
// worker that blocked until the answer could deadlock the cluster: pipelines
// that cross the same peers in different orders each held a worker waiting on
// another peer whose workers were all waiting too, until forward-timeout
// (measured before this class: 6 clients putting 4 KiB files at k=3 on 3
// peers of 4 workers made 1.4 puts/s, each stalled 10 s).
//
// Every request sent gets exactly one Answer: the next peer's OK reply, or
// kForwardFailed ("<endpoint>: why", failed_endpoint() the peer to blame: the
// next one, or the later one its own forward_failed names, if that is one of
// the peers the request travels on to) for an ERROR reply, a malformed reply,
// no reply within the timeout, or the tcp:// connection closing or refused
// while it waits (the next peer exited or was killed: common/disconnect_watch).
// A late reply to a request already answered by its timeout is dropped (seqs
// are never reused).
//
// Thread affinity: created, used and destroyed by one worker thread (it owns
// the sockets). Lifetime: `ctx` outlives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/disconnect_watch.h"
#include "common/sockets.h"

namespace p2p::peer {

// kForwardFailed "<endpoint>: why", blaming the next peer at `endpoint`
// (Status::failed_endpoint).
Status forward_failure(const std::string& endpoint, const std::string& why);

class NextPeers {
 public:
  struct Answer {
    std::uint64_t seq = 0;          // what send() returned
    std::string endpoint;           // the next peer it went to
    Result<codec::Envelope> reply;  // an OK envelope, or kForwardFailed
  };

  // REQUIRES: timeout > 0.
  NextPeers(zmq::context_t& ctx, std::chrono::milliseconds timeout);
  NextPeers(const NextPeers&) = delete;
  NextPeers& operator=(const NextPeers&) = delete;

  // Sends [command][body][data?] to `endpoint` without blocking; returns the
  // seq its Answer will carry. kForwardFailed when the request cannot be
  // queued (its socket's queue is full, or every socket has requests waiting
  // and no more may be opened).
  // `after`: the endpoints the request travels on to from `endpoint` (its
  // forward list), the only peers a forward_failed from `endpoint` may blame.
  // Each peer may wait its own timeout for the next, so the answer is awaited
  // timeout x (1 + after.size()), as the client awaits its chain: the peer
  // right before a hung one times out first, and its error names the hung one.
  Result<std::uint64_t> send(const std::string& endpoint, proto::Command command, zmq::message_t body,
                             zmq::message_t* data, std::vector<std::string> after = {});

  // Appends a POLLIN item for every socket (a late answer is read and
  // dropped rather than left queued).
  void add_poll_items(std::vector<zmq::pollitem_t>& items);
  // When the oldest waiting request times out (now, if send() failed some
  // that collect() has yet to hand out); time_point::max() if none waits.
  Clock::time_point next_deadline() const;
  // Reads what the sockets of items[first..] (as add_poll_items appended them,
  // polled) received, then times out requests past their deadline at `now`.
  // Appends their answers to `out`.
  void collect(const std::vector<zmq::pollitem_t>& items, std::size_t first, Clock::time_point now,
               std::vector<Answer>& out);

  // Requests sent whose Answer collect() has not handed out yet.
  std::size_t waiting() const { return waiting_.size() + dropped_.size(); }

 private:
  struct Waiting {
    std::string endpoint;
    std::vector<std::string> after;  // see send()
    Clock::time_point deadline;
    std::chrono::milliseconds wait;  // timeout x (1 + after.size()), for the error
  };

  Result<zmq::socket_t*> link_to(const std::string& endpoint);
  bool has_waiting(const std::string& endpoint) const;
  void answer(std::map<std::uint64_t, Waiting>::iterator it, Result<codec::Envelope> reply, std::vector<Answer>& out);
  // Reads up to kReadBatch replies waiting on `endpoint`'s link.
  void read_replies(const std::string& endpoint, std::vector<Answer>& out);
  // Closes a link that sent garbage; every request waiting on it fails.
  void drop(const std::string& endpoint, const std::string& why, std::vector<Answer>& out);

  zmq::context_t& ctx_;
  const std::chrono::milliseconds timeout_;
  struct Link {
    zmq::socket_t socket;   // DEALER to the next peer
    DisconnectWatch watch;  // tcp:// only; after `socket`: destroyed first
  };
  struct Polled {
    std::string endpoint;
    bool watched = false;  // its watch's item follows its socket's
  };

  std::map<std::string, Link> links_;  // one per next peer
  // By seq, which is also deadline order (one timeout for all).
  std::map<std::uint64_t, Waiting> waiting_;
  std::vector<Polled> polled_;       // the links of add_poll_items' items, in order
  std::vector<Answer> dropped_;      // failed by send(), handed out by the next collect()
  std::uint64_t seq_ = 0;
};

}  // namespace p2p::peer
