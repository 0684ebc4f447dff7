// StorageService: the peer's "storage" registration with the tracker, its
// holdings and its leave (docs/protocol.md 5.5, docs/replication.md "Leave").
//
// Owns a ServiceLink ("storage", reporting capacity and free bytes) and a
// PULL socket on which transfer workers and copy threads report files that
// are now complete here.
// - After every (re)join it announces every complete manifest in the store,
//   in batches of at most limits::kMaxAnnounceBatch, the last one marked
//   complete (so a tracker that kept this peer's holdings over a reconnect
//   drops those it no longer has); each reported file is announced as it
//   arrives. Batches wait in an AnnounceQueue while the link's send queue
//   is full, so a slow tracker delays announcements and loses none.
// - DELETE{file_id}: drops the file's manifest and every chunk no other
//   stored manifest uses, then answers REMOVED{[file_id]} (also for a file
//   not held here: the tracker's view is then right either way). REMOVED is
//   never dropped: it waits in a ControlQueue while the link's queue is full
//   and goes ahead of announcement batches. When that queue is full
//   (`max_pending_removals` ids) the DELETE is not carried out: the file
//   stays, and the tracker, hearing no REMOVED, stops counting this holder.
// - A file no longer whole here because a get found one of its chunks gone
//   from disk, or the scrub (scrubber.h) found one gone or corrupt
//   (ChunkStore::take_lost_file), is REMOVED too, unasked, so the tracker
//   copies it again from its other holders (within a poll interval).
// - Drain: drain() (a stop signal) or a DRAIN from the tracker (`p2p leave`)
//   makes the peer draining: it sends DRAIN to the tracker and keeps serving.
//   DRAIN waits in the ControlQueue too, and goes only once every queued
//   announcement is sent (the tracker must know every file held here before
//   it can release the peer). After every rejoin while draining it
//   re-announces, then sends DRAIN again. RELEASE from the tracker while
//   draining sets released(): the owner then runs the normal shutdown
//   (stop(), which sends DISCONNECT).
//
// Thread affinity: start(), stop() and join() from one owning thread;
// drain(), draining() and released() from any thread. The service runs its
// own thread, which creates, uses and closes its sockets.
// Lifetime: `ctx` and `store` outlive the service.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "common/chunk_store.h"
#include "common/service_link.h"
#include "services/peer/announce_queue.h"
#include "services/peer/control_queue.h"

namespace p2p::peer {

class StorageService {
 public:
  // `link.ready.service` is set to "storage"; its free bytes come from the store.
  // `max_pending_removals`: REMOVED ids waiting for room on the link at most
  // (ControlQueue); tests shrink it. REQUIRES: >= 1.
  StorageService(zmq::context_t& ctx, ChunkStore& store, ServiceLinkOptions link, std::string committed_endpoint,
                 std::size_t max_pending_removals = kMaxPendingRemovals);
  ~StorageService();  // stop() + join()
  StorageService(const StorageService&) = delete;
  StorageService& operator=(const StorageService&) = delete;

  void start();
  void stop();  // asks the thread to leave the tracker (DISCONNECT) and exit; returns at once
  void join();

  // Starts a graceful leave: DRAIN to the tracker, keep serving until RELEASE.
  // Returns at once; idempotent.
  void drain() { drain_requested_ = true; }
  bool draining() const { return draining_; }
  // The tracker released this draining peer: every file it holds is safe elsewhere.
  bool released() const { return released_; }

 private:
  void run();
  void on_command(ServiceLink& link, const codec::Envelope& cmd);
  void start_drain(ServiceLink& link, const char* why);
  void remove(const codec::Envelope& cmd);
  // Queues every file held for the new connection (sent by send_queued).
  void announce_all();
  // Sends what the link has room for: owed REMOVED and DRAIN first
  // (send_control), then queued announcements (send_announcements).
  void send_queued(ServiceLink& link);
  // Sends owed REMOVED and DRAIN until the link's queue is full or none is
  // left; DRAIN only once no announcement is queued. False when the queue is full.
  bool send_control(ServiceLink& link);
  // Sends queued announcements until the link's queue is full or none is left.
  void send_announcements(ServiceLink& link);
  void drain_committed(zmq::socket_t& pull);
  // Owes REMOVED for each file the store found no longer whole here
  // (ChunkStore::take_lost_file), while the control queue has room.
  void report_lost_files();

  zmq::context_t& ctx_;
  ChunkStore& store_;
  ServiceLinkOptions link_options_;
  std::string committed_endpoint_;
  AnnounceQueue announcements_;  // service thread only
  ControlQueue control_;         // service thread only: REMOVED and DRAIN owed to the tracker
  std::atomic<bool> stop_{false};
  std::atomic<bool> drain_requested_{false};  // set by drain(), read by the service thread
  std::atomic<bool> draining_{false};         // written by the service thread only
  std::atomic<bool> released_{false};         // written by the service thread only
  std::thread thread_;
};

}  // namespace p2p::peer
