#include "services/tracker/copy_tracker.h"

#include <algorithm>

namespace p2p::tracker {

namespace {

auto copy_of(const Hash& file_id, const std::string& target) {
  return [&](const CopyInFlight& c) { return c.file_id == file_id && c.target == target; };
}

}  // namespace

void CopyTracker::start_copy(const Hash& file_id, const std::string& target, std::uint64_t bytes,
                             Clock::time_point now) {
  copies_.push_back(CopyInFlight{file_id, target, bytes, now + timeout_});
  ++version_;
}

bool CopyTracker::drop_copy(const Hash& file_id, const std::string& target) {
  if (std::erase_if(copies_, copy_of(file_id, target)) == 0) return false;
  ++version_;
  return true;
}

bool CopyTracker::finish_copy(const Hash& file_id, const std::string& target) {
  if (!drop_copy(file_id, target)) return false;
  ++copies_done_;
  return true;
}

bool CopyTracker::fail_copy(const Hash& file_id, const std::string& target, Clock::time_point now) {
  if (!drop_copy(file_id, target)) return false;
  std::erase_if(failures_, [&](const Failure& f) { return f.file_id == file_id && f.target == target; });
  failures_.push_back(Failure{file_id, target, now + kFailedTargetMemory});
  return true;
}

bool CopyTracker::copying(const Hash& file_id, const std::string& target) const {
  return std::any_of(copies_.begin(), copies_.end(), copy_of(file_id, target));
}

std::size_t CopyTracker::copies_of(const Hash& file_id) const {
  return std::count_if(copies_.begin(), copies_.end(), [&](const CopyInFlight& c) { return c.file_id == file_id; });
}

std::size_t CopyTracker::copies_to(const std::string& target) const {
  return std::count_if(copies_.begin(), copies_.end(), [&](const CopyInFlight& c) { return c.target == target; });
}

std::uint64_t CopyTracker::bytes_to(const std::string& target) const {
  std::uint64_t bytes = 0;
  for (const CopyInFlight& c : copies_)
    if (c.target == target) bytes += c.bytes;
  return bytes;
}

bool CopyTracker::failed_recently(const Hash& file_id, const std::string& target, Clock::time_point now) const {
  return std::any_of(failures_.begin(), failures_.end(), [&](const Failure& f) {
    return f.file_id == file_id && f.target == target && now < f.until;
  });
}

void CopyTracker::start_delete(const Hash& file_id, const std::string& holder, Clock::time_point now) {
  deletes_.push_back(DeleteInFlight{file_id, holder, now + timeout_});
  ++version_;
}

bool CopyTracker::finish_delete(const Hash& file_id, const std::string& holder) {
  if (std::erase_if(deletes_, [&](const DeleteInFlight& d) { return d.file_id == file_id && d.holder == holder; }) == 0)
    return false;
  ++version_;
  return true;
}

bool CopyTracker::delete_pending(const Hash& file_id) const {
  return std::any_of(deletes_.begin(), deletes_.end(), [&](const DeleteInFlight& d) { return d.file_id == file_id; });
}

std::size_t CopyTracker::forget_peer(const std::string& peer_id) {
  const std::size_t dropped = std::erase_if(copies_, [&](const CopyInFlight& c) { return c.target == peer_id; }) +
                              std::erase_if(deletes_, [&](const DeleteInFlight& d) { return d.holder == peer_id; });
  if (dropped > 0) ++version_;
  return dropped;
}

ExpiredOrders CopyTracker::expire(Clock::time_point now) {
  ExpiredOrders out;
  std::erase_if(failures_, [&](const Failure& f) { return f.until <= now; });
  for (auto it = copies_.begin(); it != copies_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    failures_.push_back(Failure{it->file_id, it->target, now + kFailedTargetMemory});
    out.copies.push_back(std::move(*it));
    it = copies_.erase(it);
  }
  for (auto it = deletes_.begin(); it != deletes_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    out.deletes.push_back(std::move(*it));
    it = deletes_.erase(it);
  }
  if (!out.copies.empty() || !out.deletes.empty()) ++version_;
  return out;
}

}  // namespace p2p::tracker
