// ReplicationService: the peer's "replication" registration with the tracker.
//
// For now it registers, heartbeats and answers every REPLICATE order with a
// REPLICATED report of unknown_command (copying files between peers is the
// next issue), so the tracker can pick another peer instead of waiting.
//
// Thread affinity: start(), stop() and join() from one owning thread; the
// service runs its own thread, which owns its socket.
#pragma once

#include <atomic>
#include <thread>

#include <zmq.hpp>

#include "common/service_link.h"

namespace p2p::peer {

class ReplicationService {
 public:
  ReplicationService(zmq::context_t& ctx, ServiceLinkOptions link);  // service set to "replication"
  ~ReplicationService();  // stop() + join()
  ReplicationService(const ReplicationService&) = delete;
  ReplicationService& operator=(const ReplicationService&) = delete;

  void start();
  void stop();  // asks the thread to leave the tracker and exit; returns at once
  void join();

 private:
  void run();
  void answer(ServiceLink& link, const codec::Envelope& order);

  zmq::context_t& ctx_;
  ServiceLinkOptions link_options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace p2p::peer
