// Socket construction with the options every p2p-share socket needs.
//
// Thread affinity: a socket is created, used and closed by one thread
// (zguide ch.2). Only the zmq::context_t is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <zmq.hpp>

namespace p2p {

// A socket with linger 0 (closing never blocks shutdown on unsent messages)
// and ZMQ_MAXMSGSIZE = max_message (libzmq drops the connection of a sender
// whose frame is larger, before allocating it).
zmq::socket_t make_socket(zmq::context_t& ctx, zmq::socket_type type, std::int64_t max_message);

// The endpoint a socket is bound to; resolves "tcp://127.0.0.1:*" and ":0".
std::string bound_endpoint(zmq::socket_t& socket);

// "tcp://host:0" means "any free port" to users; libzmq spells it "*".
std::string normalize_bind_endpoint(std::string endpoint);

using Clock = std::chrono::steady_clock;

// Milliseconds from now to `deadline`, at least 0, rounded up: a poll timeout
// that never ends before the deadline (rounded down, a poll woken 0.7 ms early
// would be followed by polls of 0 ms, a busy loop, until the deadline).
std::chrono::milliseconds until(Clock::time_point deadline);

}  // namespace p2p
