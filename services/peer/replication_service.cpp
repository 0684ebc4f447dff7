#include "services/peer/replication_service.h"

#include "common/log.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

ReplicationService::ReplicationService(zmq::context_t& ctx, ServiceLinkOptions link)
    : ctx_(ctx), link_options_(std::move(link)) {
  link_options_.ready.service = proto::kServiceReplication;
  link_options_.free_bytes = nullptr;
}

ReplicationService::~ReplicationService() {
  stop();
  join();
}

void ReplicationService::start() { thread_ = std::thread([this] { run(); }); }
void ReplicationService::stop() { stop_ = true; }
void ReplicationService::join() {
  if (thread_.joinable()) thread_.join();
}

void ReplicationService::run() {
  try {
    ServiceLink link(ctx_, link_options_);
    while (!stop_) {
      std::vector<zmq::pollitem_t> items{{link.socket().handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::min(until(link.next_deadline()), kStopCheckInterval));
      LinkEvents events = link.process(items[0].revents & ZMQ_POLLIN);
      for (const auto& cmd : events.commands) {
        if (cmd.cmd() == proto::Command::kReplicate)
          answer(link, cmd);
        else
          P2P_WARN("replication: ignoring %s from tracker", proto::command_name(cmd.cmd()));
      }
    }
    link.leave();
  } catch (const std::exception& e) {
    P2P_ERROR("replication service stopped: %s", e.what());
  }
}

void ReplicationService::answer(ServiceLink& link, const codec::Envelope& order) {
  proto::ReplicateOrder req;
  if (Status s = codec::decode(order.body, &req); !s.ok()) {
    P2P_WARN("replication: unreadable REPLICATE order: %s", s.to_string().c_str());
    return;  // without a file id there is nothing to report on
  }
  proto::ReplicatedBody report{req.manifest.file_id(), static_cast<std::uint16_t>(ErrorCode::kUnknownCommand),
                               "this peer does not replicate files yet"};
  P2P_WARN("replication: refused REPLICATE of %s (%s): not implemented yet", req.manifest.name.c_str(),
           report.file_id.hex().c_str());
  if (Status s = link.send(proto::Command::kReplicated, codec::encode(report)); !s.ok())
    P2P_WARN("replication: REPLICATED not sent: %s", s.to_string().c_str());
}

}  // namespace p2p::peer
