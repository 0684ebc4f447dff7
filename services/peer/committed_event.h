// The committed-file event: how a transfer worker (after a COMMIT) or a copy
// worker (after a copy) tells the storage service that a file is complete
// here, so that it announces it. PUSH from the workers to the storage
// service's PULL, over inproc; the message is the file id's 32 bytes.
//
// Sent without waiting: should the storage service fall 1,000 events behind
// (the pipe's HWM), the file is announced with everything else on its next
// join, and the tracker meanwhile learns of it from PUBLISH or REPLICATED.
// Thread affinity: each function uses only the socket it is given, from that
// socket's thread.
#pragma once

#include <cstdint>
#include <optional>

#include <zmq.hpp>

#include "common/hash.h"

namespace p2p::peer {

// ZMQ_MAXMSGSIZE of both ends: an event is 32 bytes, anything larger is not one.
inline constexpr std::int64_t kMaxCommittedEvent = 64;

// Sends the event for `file_id` on `push`; false when the queue is full and it
// was not sent. Throws zmq::error_t.
bool send_committed(zmq::socket_t& push, const Hash& file_id);

// The file id an event names; nullopt for a message that is not one.
std::optional<Hash> committed_file(const zmq::message_t& event);

}  // namespace p2p::peer
