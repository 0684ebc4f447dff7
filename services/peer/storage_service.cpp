#include "services/peer/storage_service.h"

#include <cstring>

#include "common/limits.h"
#include "common/log.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

namespace {

// Committed-file events are 32 bytes; anything larger is not ours.
constexpr std::int64_t kMaxEventMessage = 64;
// Keep an ANNOUNCE well inside the tracker's control message limit even when
// a batch holds big manifests (32 bytes a chunk).
constexpr std::uint64_t kAnnounceByteBudget = limits::kMaxControlMessage / 2;

std::uint64_t encoded_size_estimate(const Manifest& m) { return 64 + m.name.size() + 34 * m.chunks.size(); }

}  // namespace

StorageService::StorageService(zmq::context_t& ctx, ChunkStore& store, ServiceLinkOptions link,
                               std::string committed_endpoint)
    : ctx_(ctx), store_(store), link_options_(std::move(link)), committed_endpoint_(std::move(committed_endpoint)) {
  link_options_.ready.service = proto::kServiceStorage;
  link_options_.ready.capacity = store_.capacity();
  link_options_.free_bytes = [this] { return store_.free_bytes(); };
}

StorageService::~StorageService() {
  stop();
  join();
}

void StorageService::start() { thread_ = std::thread([this] { run(); }); }
void StorageService::stop() { stop_ = true; }
void StorageService::join() {
  if (thread_.joinable()) thread_.join();
}

void StorageService::run() {
  try {
    zmq::socket_t pull = make_socket(ctx_, zmq::socket_type::pull, kMaxEventMessage);
    pull.bind(committed_endpoint_);
    ServiceLink link(ctx_, link_options_);
    while (!stop_) {
      std::vector<zmq::pollitem_t> items{{link.socket().handle(), 0, ZMQ_POLLIN, 0},
                                         {pull.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::min(until(link.next_deadline()), kStopCheckInterval));
      LinkEvents events = link.process(items[0].revents & ZMQ_POLLIN);
      if (events.rejoined) announce_all(link);
      for (const auto& cmd : events.commands)
        P2P_WARN("storage: ignoring %s from tracker", proto::command_name(cmd.cmd()));
      if (items[1].revents & ZMQ_POLLIN) drain_committed(pull, link);
    }
    link.leave();
  } catch (const std::exception& e) {
    P2P_ERROR("storage service stopped: %s", e.what());
  }
}

void StorageService::announce_all(ServiceLink& link) {
  std::vector<Manifest> batch;
  std::uint64_t batch_bytes = 0;
  std::size_t files = 0;
  for (Manifest& m : store_.manifests()) {
    if (!store_.complete(m)) continue;  // only files held in full are announced
    std::uint64_t bytes = encoded_size_estimate(m);
    if (!batch.empty() && (batch.size() == limits::kMaxAnnounceBatch || batch_bytes + bytes > kAnnounceByteBudget)) {
      announce(link, batch);
      batch.clear();
      batch_bytes = 0;
    }
    batch.push_back(std::move(m));
    batch_bytes += bytes;
    ++files;
  }
  if (!batch.empty()) announce(link, batch);
  P2P_INFO("storage: joined tracker; announced %zu files", files);
}

void StorageService::announce(ServiceLink& link, const std::vector<Manifest>& files) {
  proto::AnnounceBody body;
  body.files = files;
  if (Status s = link.send(proto::Command::kAnnounce, codec::encode(body)); !s.ok())
    P2P_WARN("storage: ANNOUNCE of %zu files not sent: %s", files.size(), s.to_string().c_str());
}

void StorageService::drain_committed(zmq::socket_t& pull, ServiceLink& link) {
  zmq::message_t msg;
  while (pull.recv(msg, zmq::recv_flags::dontwait)) {
    if (msg.size() != Hash::kSize) continue;
    Hash id;
    std::memcpy(id.bytes.data(), msg.data(), Hash::kSize);
    Result<Manifest> m = store_.manifest(id);
    if (!m.ok() || !store_.complete(m.value())) continue;
    announce(link, {m.value()});
    P2P_INFO("storage: announced %s (%s)", m->name.c_str(), id.hex().c_str());
  }
}

}  // namespace p2p::peer
