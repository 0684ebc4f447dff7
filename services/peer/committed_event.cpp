#include "services/peer/committed_event.h"

#include <cstring>

namespace p2p::peer {

bool send_committed(zmq::socket_t& push, const Hash& file_id) {
  zmq::message_t event(file_id.bytes.data(), file_id.bytes.size());
  return push.send(event, zmq::send_flags::dontwait).has_value();
}

std::optional<Hash> committed_file(const zmq::message_t& event) {
  if (event.size() != Hash::kSize) return std::nullopt;
  Hash id;
  std::memcpy(id.bytes.data(), event.data(), Hash::kSize);
  return id;
}

}  // namespace p2p::peer
