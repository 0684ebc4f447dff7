#include "services/peer/control_queue.h"

#include <algorithm>

#include "common/codec.h"

namespace p2p::peer {

ControlQueue::Sent ControlQueue::send(const Sender& send, bool drain_allowed) {
  Sent sent;
  while (!removals_.empty()) {
    const std::size_t n = std::min(removals_.size(), kMaxRemovedBatch);
    proto::FileList list;
    list.file_ids.assign(removals_.begin(), removals_.begin() + static_cast<std::ptrdiff_t>(n));
    const Status s = send(proto::Command::kRemoved, codec::encode(list));
    if (s.code() == ErrorCode::kUnavailable) {
      sent.full = true;
      return sent;
    }
    if (s.ok()) {
      sent.removed_ids += n;
      ++sent.removed_messages;
    } else {
      sent.dropped_ids += n;
      sent.error = s;
    }
    removals_.erase(removals_.begin(), removals_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (drain_owed_ && drain_allowed) {
    const Status s = send(proto::Command::kDrain, codec::encode(proto::Empty{}));
    if (s.code() == ErrorCode::kUnavailable) {
      sent.full = true;
      return sent;
    }
    if (s.ok()) {
      sent.drain = true;
    } else {
      sent.drain_dropped = true;
      sent.error = s;
    }
    drain_owed_ = false;
  }
  return sent;
}

}  // namespace p2p::peer
