#include "services/peer/replication_service.h"

#include "common/limits.h"
#include "common/log.h"
#include "services/peer/copy_worker.h"
#include "services/peer/file_copy.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

namespace {

// Each service in a process needs its own inproc names (tests run several).
std::string unique_slot_prefix() {
  static std::atomic<int> counter{0};
  return "inproc://p2p-copy-" + std::to_string(++counter) + "-";
}

}  // namespace

ReplicationService::ReplicationService(zmq::context_t& ctx, ChunkStore& store, ReplicationOptions options)
    : ctx_(ctx), store_(store), options_(std::move(options)) {
  options_.link.ready.service = proto::kServiceReplication;
  options_.link.free_bytes = nullptr;
  options_.link.copies = [this] { return running_.load(); };
  if (options_.max_copies == 0) options_.max_copies = 1;
  const std::string prefix = unique_slot_prefix();
  for (unsigned i = 0; i < options_.max_copies; ++i) slot_endpoints_.push_back(prefix + std::to_string(i));
}

ReplicationService::~ReplicationService() {
  stop();
  join();
}

void ReplicationService::start() {
  thread_ = std::thread([this] { run(); });
  // Connecting before the replication thread binds is fine on inproc (libzmq >= 4.2).
  for (const std::string& endpoint : slot_endpoints_) {
    CopyWorkerConfig config{endpoint, options_.committed_endpoint, options_.fetch};
    copy_threads_.emplace_back([this, config] { run_copy_worker(ctx_, store_, config, stop_); });
  }
}

void ReplicationService::stop() { stop_ = true; }

void ReplicationService::join() {
  if (thread_.joinable()) thread_.join();
  for (std::thread& t : copy_threads_)
    if (t.joinable()) t.join();
}

void ReplicationService::run() {
  try {
    std::vector<Slot> slots;
    for (const std::string& endpoint : slot_endpoints_) {
      Slot slot{make_socket(ctx_, zmq::socket_type::pair, limits::kMaxControlMessage), false, Hash{}};
      slot.socket.bind(endpoint);
      slots.push_back(std::move(slot));
    }
    ServiceLink link(ctx_, options_.link);
    P2P_INFO("replication: ready for %zu copies at once, %zu waiting", slots.size(), options_.max_queued);
    while (!stop_) {
      std::vector<zmq::pollitem_t> items{{link.socket().handle(), 0, ZMQ_POLLIN, 0}};
      for (Slot& slot : slots) items.push_back({slot.socket.handle(), 0, ZMQ_POLLIN, 0});
      zmq::poll(items, std::min(until(link.next_deadline()), kStopCheckInterval));
      for (std::size_t i = 0; i < slots.size(); ++i)
        if (items[i + 1].revents & ZMQ_POLLIN) on_result(link, slots[i]);
      LinkEvents events = link.process(items[0].revents & ZMQ_POLLIN);
      for (const auto& cmd : events.commands) {
        if (cmd.cmd() == proto::Command::kReplicate)
          on_order(link, cmd);
        else
          P2P_WARN("replication: ignoring %s from tracker", proto::command_name(cmd.cmd()));
      }
      dispatch(slots);
    }
    // Copies that ended just now are reported as they ended, not as cancelled.
    for (Slot& slot : slots) on_result(link, slot);
    refuse_pending(link, slots);
    link.leave();
  } catch (const std::exception& e) {
    P2P_ERROR("replication service stopped: %s", e.what());
  }
}

void ReplicationService::on_order(ServiceLink& link, const codec::Envelope& env) {
  proto::ReplicateOrder order;
  if (Status s = codec::decode(env.body, &order); !s.ok()) {
    P2P_WARN("replication: unreadable REPLICATE order: %s", s.to_string().c_str());
    return;  // without a file id there is nothing to report on
  }
  const Hash id = order.manifest.file_id();
  if (Status s = validate_order(order); !s.ok()) {
    P2P_WARN("replication: refused REPLICATE of %s (%s): %s", id.hex().c_str(), order.manifest.name.c_str(),
             s.message().c_str());
    report(link, id, s.code(), s.message());
    return;
  }
  if (Result<Manifest> held = store_.manifest(id); held.ok() && store_.complete(held.value())) {
    P2P_INFO("replication: %s (%s) is already held here", id.hex().c_str(), order.manifest.name.c_str());
    report(link, id, ErrorCode::kOk, "");
    return;
  }
  if (active_.contains(id)) {
    P2P_INFO("replication: %s (%s) is already being copied; its result answers this order too", id.hex().c_str(),
             order.manifest.name.c_str());
    return;
  }
  if (queue_.size() >= options_.max_queued) {
    P2P_WARN("replication: refused REPLICATE of %s (%s): %zu orders already waiting", id.hex().c_str(),
             order.manifest.name.c_str(), queue_.size());
    report(link, id, ErrorCode::kShuttingDown,
           "copy queue full (" + std::to_string(queue_.size()) + " waiting); order it again later");
    return;
  }
  active_.insert(id);
  queue_.push_back(std::move(order));
}

void ReplicationService::dispatch(std::vector<Slot>& slots) {
  for (Slot& slot : slots) {
    if (queue_.empty()) return;
    if (slot.busy) continue;
    proto::ReplicateOrder& order = queue_.front();
    // inproc to an idle copy thread: the queue is empty, so this cannot block.
    if (!slot.socket.send(codec::encode(order), zmq::send_flags::dontwait)) {
      P2P_ERROR("replication: copy thread did not take an order");
      return;
    }
    slot.busy = true;
    slot.file_id = order.manifest.file_id();
    ++running_;
    queue_.pop_front();
  }
}

void ReplicationService::on_result(ServiceLink& link, Slot& slot) {
  zmq::message_t msg;
  while (slot.socket.recv(msg, zmq::recv_flags::dontwait)) {
    proto::ReplicatedBody result;
    if (Status s = codec::decode(msg, &result); !s.ok()) {
      result = {slot.file_id, static_cast<std::uint16_t>(ErrorCode::kInternal), "unreadable copy result"};
      P2P_ERROR("replication: %s", s.to_string().c_str());
    }
    if (slot.busy) {
      slot.busy = false;
      --running_;
      active_.erase(slot.file_id);
    }
    report(link, result.file_id, static_cast<ErrorCode>(result.code), result.message);
  }
}

void ReplicationService::report(ServiceLink& link, const Hash& file_id, ErrorCode code, const std::string& message) {
  proto::ReplicatedBody body{file_id, static_cast<std::uint16_t>(code), message};
  // A lost report is recovered by the tracker: the copy times out and is
  // planned again, or the announcement of the file counts as its confirmation.
  if (Status s = link.send(proto::Command::kReplicated, codec::encode(body)); !s.ok())
    P2P_WARN("replication: REPLICATED of %s not sent: %s", file_id.hex().c_str(), s.to_string().c_str());
}

void ReplicationService::refuse_pending(ServiceLink& link, std::vector<Slot>& slots) {
  std::size_t refused = 0;
  for (const Slot& slot : slots) {
    if (!slot.busy) continue;
    report(link, slot.file_id, ErrorCode::kShuttingDown, "peer stopping; copy cancelled");
    ++refused;
  }
  for (const proto::ReplicateOrder& order : queue_) {
    report(link, order.manifest.file_id(), ErrorCode::kShuttingDown, "peer stopping; copy not started");
    ++refused;
  }
  queue_.clear();
  active_.clear();
  running_ = 0;
  if (refused > 0) P2P_INFO("replication: stopping; %zu copies cancelled", refused);
}

}  // namespace p2p::peer
