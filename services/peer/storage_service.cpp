#include "services/peer/storage_service.h"

#include <optional>

#include "common/limits.h"
#include "common/log.h"
#include "services/peer/committed_event.h"
#include "services/peer/service_thread.h"

namespace p2p::peer {

StorageService::StorageService(zmq::context_t& ctx, ChunkStore& store, ServiceLinkOptions link,
                               std::string committed_endpoint, std::size_t max_pending_removals)
    : ctx_(ctx),
      store_(store),
      link_options_(std::move(link)),
      committed_endpoint_(std::move(committed_endpoint)),
      control_(max_pending_removals) {
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
    zmq::socket_t pull = make_socket(ctx_, zmq::socket_type::pull, kMaxCommittedEvent);
    pull.bind(committed_endpoint_);
    ServiceLink link(ctx_, link_options_);
    while (!stop_) {
      // POLLOUT only while something waits for room in the link's queue.
      const bool waiting =
          link.joined() && (!announcements_.empty() || control_.ready(/*drain_allowed=*/announcements_.empty()));
      const short link_events = waiting ? ZMQ_POLLIN | ZMQ_POLLOUT : ZMQ_POLLIN;
      std::vector<zmq::pollitem_t> items{{link.socket().handle(), 0, link_events, 0},
                                         {pull.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::min(until(link.next_deadline()), kStopCheckInterval));
      LinkEvents events = link.process(items[0].revents & ZMQ_POLLIN);
      if (events.rejoined) {
        announce_all();
        // A restarted tracker knows nothing of the drain: tell it again. DRAIN
        // waits for the announcements, so the tracker knows what must be moved.
        if (draining_) control_.owe_drain();
      }
      for (const auto& cmd : events.commands) on_command(link, cmd);
      if (drain_requested_ && !draining_) start_drain(link, "stop signal");
      if (items[1].revents & ZMQ_POLLIN) drain_committed(pull);
      report_lost_files();
      send_queued(link);
    }
    link.leave();
  } catch (const std::exception& e) {
    P2P_ERROR("storage service stopped: %s", e.what());
  }
}

void StorageService::on_command(ServiceLink& link, const codec::Envelope& cmd) {
  switch (cmd.cmd()) {
    case proto::Command::kDelete:
      remove(cmd);
      return;
    case proto::Command::kDrain:
      if (draining_)
        P2P_INFO("storage: DRAIN from tracker; already draining");
      else
        start_drain(link, "the tracker asked (p2p leave)");
      return;
    case proto::Command::kRelease:
      if (!draining_) {
        P2P_WARN("storage: ignoring RELEASE from tracker: this peer is not draining");
        return;
      }
      if (!released_) P2P_INFO("storage: released by the tracker: every file held here is safe elsewhere; leaving");
      released_ = true;
      return;
    case proto::Command::kError:  // e.g. a tracker that does not serve DRAIN
      P2P_WARN("storage: tracker answered with %s", codec::error_from(cmd).to_string().c_str());
      return;
    default:
      P2P_WARN("storage: ignoring %s from tracker", proto::command_name(cmd.cmd()));
  }
}

void StorageService::start_drain(ServiceLink& link, const char* why) {
  draining_ = true;
  P2P_INFO("storage: draining (%s): serving until the tracker releases this peer", why);
  // Sent once the link is joined and has room and every queued announcement
  // is out (send_control). Before the tracker has answered, it goes out after
  // the (re)join's announcement: a message queued on a socket that is then
  // replaced would be lost.
  control_.owe_drain();
  if (!link.joined()) P2P_INFO("storage: tracker not reachable yet; DRAIN is sent once it answers");
}

void StorageService::remove(const codec::Envelope& cmd) {
  proto::FileRef ref;
  if (Status s = codec::decode(cmd.body, &ref); !s.ok()) {
    P2P_WARN("storage: unreadable DELETE: %s", s.to_string().c_str());
    return;  // without a file id there is nothing to answer
  }
  if (!control_.has_room()) {
    // A REMOVED that could not be queued would be lost, and the tracker would
    // count a replica that is gone. Kept instead: the tracker's delete times
    // out and it stops counting this holder (the safe direction); the next
    // announcement tells it the file is still here.
    P2P_WARN("storage: DELETE of %s not carried out: %zu REMOVED answers already wait for room on the link",
             ref.file_id.hex().c_str(), control_.removals());
    return;
  }
  Result<ChunkStore::RemoveReport> removed = store_.remove_file(ref.file_id);
  if (removed.ok()) {
    P2P_INFO("storage: deleted %s on the tracker's order: %llu chunks, %llu bytes freed, %llu chunks kept (shared)",
             ref.file_id.hex().c_str(), static_cast<unsigned long long>(removed->chunks),
             static_cast<unsigned long long>(removed->bytes), static_cast<unsigned long long>(removed->shared));
  } else if (removed.status().code() == ErrorCode::kNotFound) {
    P2P_INFO("storage: DELETE of %s, which is not held here; answering REMOVED anyway", ref.file_id.hex().c_str());
  } else {
    // The manifest is still here: the file is still held, so no REMOVED.
    P2P_WARN("storage: DELETE of %s failed: %s", ref.file_id.hex().c_str(), removed.status().to_string().c_str());
    return;
  }
  control_.add_removed(ref.file_id);  // sent by send_queued, ahead of announcements
}

void StorageService::report_lost_files() {
  // Without room the file waits in the store: a REMOVED is never dropped.
  while (control_.has_room()) {
    std::optional<Hash> id = store_.take_lost_file();
    if (!id) return;
    P2P_WARN("storage: file %s lost a chunk on disk; REMOVED to the tracker, which copies it from other holders",
             id->hex().c_str());
    control_.add_removed(*id);
  }
}

void StorageService::announce_all() {
  // Every manifest is queued; a batch takes only the files held in full
  // (AnnounceQueue::next), so completeness is checked once, when it is sent.
  announcements_.restart(store_.file_ids());
  P2P_INFO("storage: joined tracker; announcing the files held in full among %zu manifests",
           announcements_.queued());
}

void StorageService::send_queued(ServiceLink& link) {
  // Not before the tracker answered this connection's READY (see
  // send_announcements); what is owed then waits for the join.
  if (!link.joined()) return;
  if (!send_control(link)) return;  // the queue is full: again when it has room (POLLOUT)
  send_announcements(link);
  // The last announcement just went: a DRAIN owed may go now.
  if (announcements_.empty() && control_.drain_owed()) send_control(link);
}

bool StorageService::send_control(ServiceLink& link) {
  const ControlQueue::Sent sent = control_.send(
      [&](proto::Command command, zmq::message_t body) { return link.send(command, std::move(body)); },
      /*drain_allowed=*/announcements_.empty());
  if (sent.removed_ids != 0)
    P2P_DEBUG("storage: sent REMOVED of %zu files in %zu messages", sent.removed_ids, sent.removed_messages);
  if (sent.dropped_ids != 0)  // not a full queue: the link is unusable, and the tracker's delete timeout covers it
    P2P_WARN("storage: REMOVED of %zu files not sent: %s", sent.dropped_ids, sent.error.to_string().c_str());
  if (sent.drain) P2P_INFO("storage: sent DRAIN to the tracker; waiting for RELEASE");
  if (sent.drain_dropped)
    P2P_WARN("storage: DRAIN not sent: %s; it is sent again on the next join", sent.error.to_string().c_str());
  return !sent.full;
}

void StorageService::send_announcements(ServiceLink& link) {
  // Not before the tracker answered this connection's READY: what is queued
  // belongs to the previous one, and the rejoin queues everything anew. (Its
  // complete marker, sent now, would drop the files announced before.)
  if (!link.joined()) return;
  while (!announcements_.empty()) {
    AnnounceQueue::Batch batch = announcements_.next(store_);
    if (batch.body.files.empty() && !batch.body.complete) {  // every file it took is gone
      announcements_.pop(batch);
      continue;
    }
    Status s = link.send(proto::Command::kAnnounce, codec::encode(batch.body));
    if (s.code() == ErrorCode::kUnavailable) return;  // the queue is full: again when it has room (POLLOUT)
    if (!s.ok()) {
      // Not a full queue: sending it again would fail the same way.
      P2P_WARN("storage: ANNOUNCE of %zu files not sent: %s", batch.body.files.size(), s.to_string().c_str());
      announcements_.forgo_complete();
      batch.body.complete = false;
    }
    announcements_.pop(batch);
    if (batch.body.complete) P2P_INFO("storage: announced every file to the tracker");
  }
}

void StorageService::drain_committed(zmq::socket_t& pull) {
  zmq::message_t msg;
  while (pull.recv(msg, zmq::recv_flags::dontwait)) {
    const std::optional<Hash> event = committed_file(msg);
    if (!event) continue;
    const Hash& id = *event;
    Result<Manifest> m = store_.manifest(id);
    if (!m.ok() || !store_.complete(m.value())) continue;
    announcements_.add(id);
    P2P_INFO("storage: announcing %s (%s)", m->name.c_str(), id.hex().c_str());
  }
}

}  // namespace p2p::peer
