#include "client/load/hashing_sink.h"

namespace p2p::client::load {

Status HashingSink::write(std::uint64_t index, const void* data, std::size_t size) {
  if (index != next_index_) {
    const auto* p = static_cast<const char*>(data);
    early_.emplace(index, std::vector<char>(p, p + size));
    return Status::Ok();
  }
  digest_.update(data, size);
  hashed_ += size;
  ++next_index_;
  for (auto it = early_.begin(); it != early_.end() && it->first == next_index_; it = early_.erase(it)) {
    digest_.update(it->second.data(), it->second.size());
    hashed_ += it->second.size();
    ++next_index_;
  }
  return Status::Ok();
}

Result<Hash> HashingSink::finish(std::uint64_t chunk_count) {
  if (next_index_ != chunk_count || !early_.empty())
    return Status{ErrorCode::kInternal, "hashed " + std::to_string(next_index_) + " of " +
                                            std::to_string(chunk_count) + " chunks"};
  return digest_.finish();
}

}  // namespace p2p::client::load
