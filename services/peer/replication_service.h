// ReplicationService: the peer's "replication" registration with the tracker
// and the executor of its REPLICATE orders (docs/protocol.md 5.5,
// docs/replication.md "Repair").
//
//   tracker --REPLICATE--> replication thread (owns the ServiceLink)
//                              | bounded wait queue (max_queued)
//                              | inproc PAIR, one per copy thread
//                          max_copies copy threads (CopyWorker)
//   tracker <--REPLICATED-- replication thread, when a copy ends
//
// - An order that is not valid (manifest, sources) is answered at once with
//   REPLICATED bad_request; an undecodable one is logged (no file id to report).
// - A file already complete here (manifest stored) is answered with code 0 at once.
// - An order for a file already queued or copying is dropped: the running
//   copy's REPLICATED answers it.
// - Orders wait while max_copies copies run; beyond max_queued waiting they
//   are answered with REPLICATED shutting_down at once (the tracker retries).
// - Its HEARTBEAT carries the number of copies running.
// - stop(): running copies give up (kCancelCheckInterval) and every queued or
//   running order is answered with shutting_down before the link leaves.
//
// Thread affinity: start(), stop() and join() from one owning thread; the
// replication thread and each copy thread create, use and close their own
// sockets. running_copies() may be read from any thread.
// Lifetime: `ctx` and `store` outlive the service; join() before destroying them.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/chunk_fetcher.h"
#include "common/chunk_store.h"
#include "common/service_link.h"

namespace p2p::peer {

struct ReplicationOptions {
  ServiceLinkOptions link;  // service set to "replication"; copies reported in HEARTBEAT
  // Copies running at once, like HDFS's dfs.namenode.replication.max-streams
  // (default 2): each copy keeps window x sources chunks in flight.
  unsigned max_copies = 2;
  // Orders waiting for a copy thread. A tracker never orders more than its
  // --max-copies-per-peer at once, so this only fills after tracker restarts.
  std::size_t max_queued = 64;
  FetchOptions fetch;              // chunk timeout and window of each copy
  std::string committed_endpoint;  // storage service's PULL (announces copies); empty = none
};

class ReplicationService {
 public:
  // REQUIRES: options.max_copies >= 1.
  ReplicationService(zmq::context_t& ctx, ChunkStore& store, ReplicationOptions options);
  ~ReplicationService();  // stop() + join()
  ReplicationService(const ReplicationService&) = delete;
  ReplicationService& operator=(const ReplicationService&) = delete;

  void start();  // starts the replication thread and the copy threads
  void stop();   // cancels copies, answers pending orders, leaves the tracker; returns at once
  void join();

  // Copies running now (also reported in HEARTBEAT).
  std::uint32_t running_copies() const { return running_; }

 private:
  struct Slot {  // the replication thread's view of one copy thread
    zmq::socket_t socket;  // PAIR to the copy thread
    bool busy = false;
    Hash file_id;  // valid while busy
  };

  void run();
  void on_order(ServiceLink& link, const codec::Envelope& env);
  void on_result(ServiceLink& link, Slot& slot);
  void dispatch(std::vector<Slot>& slots);
  void report(ServiceLink& link, const Hash& file_id, ErrorCode code, const std::string& message);
  void refuse_pending(ServiceLink& link, std::vector<Slot>& slots);

  zmq::context_t& ctx_;
  ChunkStore& store_;
  ReplicationOptions options_;
  std::vector<std::string> slot_endpoints_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint32_t> running_{0};
  // Replication thread only:
  std::deque<proto::ReplicateOrder> queue_;
  std::set<Hash> active_;  // file ids queued or copying
  std::thread thread_;
  std::vector<std::thread> copy_threads_;
};

}  // namespace p2p::peer
