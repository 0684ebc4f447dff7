// StorageService: the peer's "storage" registration with the tracker.
//
// Owns a ServiceLink ("storage", reporting capacity and free bytes) and a
// PULL socket on which transfer workers report committed files. After every
// (re)join it announces every complete manifest in the store, in batches of
// at most limits::kMaxAnnounceBatch; each committed file is announced as it
// arrives.
//
// Thread affinity: start(), stop() and join() from one owning thread; the
// service runs its own thread, which creates, uses and closes its sockets.
// Lifetime: `ctx` and `store` outlive the service.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "common/chunk_store.h"
#include "common/service_link.h"

namespace p2p::peer {

class StorageService {
 public:
  // `link.ready.service` is set to "storage"; its free bytes come from the store.
  StorageService(zmq::context_t& ctx, ChunkStore& store, ServiceLinkOptions link, std::string committed_endpoint);
  ~StorageService();  // stop() + join()
  StorageService(const StorageService&) = delete;
  StorageService& operator=(const StorageService&) = delete;

  void start();
  void stop();  // asks the thread to leave the tracker and exit; returns at once
  void join();

 private:
  void run();
  void announce_all(ServiceLink& link);
  void announce(ServiceLink& link, const std::vector<Manifest>& files);
  void drain_committed(zmq::socket_t& pull, ServiceLink& link);

  zmq::context_t& ctx_;
  ChunkStore& store_;
  ServiceLinkOptions link_options_;
  std::string committed_endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace p2p::peer
