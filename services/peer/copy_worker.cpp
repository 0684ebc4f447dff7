#include "services/peer/copy_worker.h"

#include <chrono>
#include <optional>

#include "common/codec.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/sockets.h"
#include "services/peer/committed_event.h"
#include "services/peer/file_copy.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

namespace {

proto::ReplicatedBody copy_one(zmq::context_t& ctx, ChunkStore& store, const proto::ReplicateOrder& order,
                               const FetchOptions& fetch, zmq::socket_t* committed) {
  const Manifest& m = order.manifest;
  const Hash id = m.file_id();
  P2P_INFO("replication: copy of %s (%s, %llu bytes) started from %zu sources", id.hex().c_str(), m.name.c_str(),
           static_cast<unsigned long long>(m.size), order.sources.size());
  const auto start = Clock::now();
  Result<CopyReport> copied = copy_file(ctx, store, order, fetch);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  proto::ReplicatedBody result{id, 0, ""};
  if (copied.ok()) {
    if (committed) {
      if (!send_committed(*committed, id))
        P2P_WARN("replication: storage service busy; %s is announced on the next join", id.hex().c_str());
    }
    P2P_INFO("replication: copy of %s (%s) done: fetched %llu bytes in %llu chunks in %.3f s", id.hex().c_str(),
             m.name.c_str(), static_cast<unsigned long long>(copied->fetched_bytes),
             static_cast<unsigned long long>(copied->fetched_chunks), seconds);
  } else {
    result.code = static_cast<std::uint16_t>(copied.status().code());
    result.message = copied.status().message();
    P2P_WARN("replication: copy of %s (%s, %llu bytes) failed after %.3f s: %s", id.hex().c_str(), m.name.c_str(),
             static_cast<unsigned long long>(m.size), seconds, copied.status().to_string().c_str());
  }
  return result;
}

}  // namespace

void run_copy_worker(zmq::context_t& ctx, ChunkStore& store, CopyWorkerConfig config, const std::atomic<bool>& stop) {
  try {
    config.fetch.cancelled = [&stop] { return stop.load(); };
    zmq::socket_t orders = make_socket(ctx, zmq::socket_type::pair, limits::kMaxControlMessage);
    orders.connect(config.order_endpoint);
    std::optional<zmq::socket_t> committed;
    if (!config.committed_endpoint.empty()) {
      committed = make_socket(ctx, zmq::socket_type::push, kMaxCommittedEvent);
      committed->connect(config.committed_endpoint);
    }
    while (!stop) {
      std::vector<zmq::pollitem_t> items{{orders.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, kStopCheckInterval);
      zmq::message_t msg;
      if (!(items[0].revents & ZMQ_POLLIN) || !orders.recv(msg, zmq::recv_flags::dontwait)) continue;
      proto::ReplicateOrder order;
      proto::ReplicatedBody result;
      if (Status s = codec::decode(msg, &order); !s.ok()) {
        // Only the replication thread writes here, after decoding the same bytes.
        P2P_ERROR("replication: copy thread got an unreadable order: %s", s.to_string().c_str());
        result = {order.manifest.file_id(), static_cast<std::uint16_t>(ErrorCode::kInternal), s.message()};
      } else {
        result = copy_one(ctx, store, order, config.fetch, committed ? &*committed : nullptr);
      }
      // inproc to a thread that drains it every poll: a full queue means it is gone.
      if (!orders.send(codec::encode(result), zmq::send_flags::dontwait))
        P2P_WARN("replication: result of %s dropped", result.file_id.hex().c_str());
    }
  } catch (const std::exception& e) {
    P2P_ERROR("replication: copy thread stopped: %s", e.what());
  }
}

}  // namespace p2p::peer
