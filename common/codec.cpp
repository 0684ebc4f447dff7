#include "common/codec.h"

#include "common/sockets.h"

#include <algorithm>

namespace p2p::codec {

namespace {

// Reads and drops the rest of a multipart message.
void drain(zmq::socket_t& socket, bool more) {
  while (more) {
    zmq::message_t skip;
    if (!socket.recv(skip, zmq::recv_flags::dontwait)) return;
    more = skip.more();
  }
}

}  // namespace

msgpack::sbuffer& encode_scratch() {
  thread_local msgpack::sbuffer scratch(kEncodeCopyMaxBytes);
  scratch.clear();
  return scratch;
}

zmq::message_t take_encoded(msgpack::sbuffer& scratch) {
  if (scratch.size() <= kEncodeCopyMaxBytes) return zmq::message_t(scratch.data(), scratch.size());
  const std::size_t size = scratch.size();
  char* data = scratch.release();  // malloc'ed; zmq frees it with free(); the scratch starts anew
  return zmq::message_t(data, size, [](void* p, void*) { std::free(p); }, nullptr);
}

msgpack::zone& decode_zone() {
  thread_local msgpack::zone zone;
  return zone;
}

namespace {

// Counts values by their containers' headers, so a body claiming too many is
// refused at its first oversized header, before the elements are read.
struct ValueBudget : msgpack::null_visitor {
  std::size_t left = kMaxBodyValues - 1;  // the outermost value is one
  std::size_t depth = 0;
  bool exceeded = false;

  bool take(std::uint64_t values) {
    exceeded = values > left || depth + 1 > limits::kMaxDepth;
    if (exceeded) return false;
    left -= static_cast<std::size_t>(values);
    ++depth;
    return true;
  }
  bool start_array(std::uint32_t elements) { return take(elements); }
  bool start_map(std::uint32_t pairs) { return take(2ull * pairs); }
  bool end_array() { return --depth, true; }
  bool end_map() { return --depth, true; }
};

}  // namespace

Status check_body(const void* data, std::size_t size) {
  ValueBudget budget;
  std::size_t parsed = 0;
  try {
    if (!msgpack::parse(static_cast<const char*>(data), size, parsed, budget))
      return {ErrorCode::kBadRequest, budget.exceeded ? "undecodable body: more than " +
                                                            std::to_string(kMaxBodyValues) + " values or " +
                                                            std::to_string(limits::kMaxDepth) + " levels"
                                                      : std::string("undecodable body: malformed msgpack")};
  } catch (const std::exception& e) {
    return {ErrorCode::kBadRequest, std::string("undecodable body: ") + e.what()};
  }
  if (parsed != size)
    return {ErrorCode::kBadRequest, "undecodable body: " + std::to_string(size - parsed) + " bytes after it"};
  return Status::Ok();
}

msgpack::unpack_limit limits_for(std::size_t size) {
  return msgpack::unpack_limit(size, size, limits::kMaxStringBytes, limits::kMaxBinBytes, 0, limits::kMaxDepth);
}

Status recv_envelope_until(zmq::socket_t& socket, Layout layout, std::chrono::steady_clock::time_point deadline,
                           Envelope* out) {
  try {
    while (true) {
      std::vector<zmq::pollitem_t> items{{socket.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, until(deadline));
      if (items[0].revents & ZMQ_POLLIN) {
        Status s = recv_envelope(socket, layout, out);
        if (s.code() != ErrorCode::kTimeout) return s;  // kTimeout here: a spurious wake-up
      }
      if (std::chrono::steady_clock::now() >= deadline) return {ErrorCode::kTimeout, "no message before the deadline"};
    }
  } catch (const zmq::error_t& e) {
    return {ErrorCode::kInternal, std::string("poll: ") + e.what()};
  }
}

bool reply_possible(const Envelope& env, Layout layout) {
  return layout != Layout::kRouter || !env.routing.empty();
}

Status recv_envelope(zmq::socket_t& socket, Layout layout, Envelope* out, zmq::recv_flags flags) {
  *out = Envelope{};
  try {
    zmq::message_t frame;
    if (!socket.recv(frame, flags)) return {ErrorCode::kTimeout, "no message"};
    bool more = frame.more();
    auto next = [&]() -> bool {
      if (!more) return false;
      frame = zmq::message_t();
      // The rest of a multipart message is already here: it never blocks.
      if (!socket.recv(frame, zmq::recv_flags::none)) return false;
      more = frame.more();
      return true;
    };

    if (layout == Layout::kRouter) {
      // Routing frames up to the empty delimiter.
      while (frame.size() != 0) {
        if (out->routing.size() == limits::kMaxRoutingFrames) {
          drain(socket, more);
          out->routing.clear();  // cannot trust this envelope for a reply
          return {ErrorCode::kBadRequest, "too many routing frames"};
        }
        out->routing.push_back(std::move(frame));
        if (!next()) {
          // Only the first frame is surely the sender's identity; the rest is its garbage.
          out->routing.resize(1);
          return {ErrorCode::kBadRequest, "no delimiter"};
        }
      }
      if (!next()) return {ErrorCode::kBadRequest, "no header frame"};
    } else {
      if (frame.size() != 0) {
        drain(socket, more);
        return {ErrorCode::kBadRequest, "missing empty delimiter"};
      }
      if (!next()) return {ErrorCode::kBadRequest, "no header frame"};
    }

    Header header;
    if (Status s = decode(frame, &header); !s.ok()) {
      drain(socket, more);
      return {ErrorCode::kBadRequest, "bad header"};
    }
    out->version = header.version;
    out->command = header.command;
    out->seq = header.seq;
    if (!next()) return {ErrorCode::kBadRequest, "no body frame"};
    out->body = std::move(frame);
    static_assert(limits::kMaxFrames == 3, "the frames read here: header, body and an optional data frame");
    if (more) {
      next();
      out->data = std::move(frame);
      out->has_data = true;
      if (more) {
        drain(socket, more);
        return {ErrorCode::kBadRequest, "too many frames"};
      }
    }
    if (out->version != proto::kVersion)
      return {ErrorCode::kVersion, "protocol version " + std::to_string(out->version) + " is not spoken here (1)"};
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return {ErrorCode::kInternal, std::string("recv: ") + e.what()};
  }
}

Status send_envelope(zmq::socket_t& socket, Layout layout, const std::vector<zmq::message_t>* routing,
                     proto::Command command, std::uint64_t seq, zmq::message_t body, zmq::message_t* data,
                     zmq::send_flags flags) {
  try {
    const auto more = flags | zmq::send_flags::sndmore;
    auto send = [&](zmq::message_t& m, zmq::send_flags f) -> bool { return socket.send(m, f).has_value(); };
    // Only the first frame can fail on dontwait: once it is queued, libzmq
    // takes the rest of the multipart message atomically.
    bool first = true;
    auto send_part = [&](zmq::message_t& m, zmq::send_flags f) -> Status {
      if (send(m, f)) {
        first = false;
        return Status::Ok();
      }
      return {first ? ErrorCode::kUnavailable : ErrorCode::kInternal, "send would block"};
    };
    if (layout == Layout::kRouter) {
      if (routing == nullptr || routing->empty()) return {ErrorCode::kInternal, "no routing for ROUTER send"};
      for (const auto& r : *routing) {
        zmq::message_t copy;
        copy.copy(const_cast<zmq::message_t&>(r));
        if (Status s = send_part(copy, more); !s.ok()) return s;
      }
    }
    zmq::message_t delimiter;
    if (Status s = send_part(delimiter, more); !s.ok()) return s;
    zmq::message_t header = encode(Header{proto::kVersion, static_cast<std::uint8_t>(command), seq});
    if (Status s = send_part(header, more); !s.ok()) return s;
    if (Status s = send_part(body, data ? more : flags); !s.ok()) return s;
    if (data) {
      if (Status s = send_part(*data, flags); !s.ok()) return s;
    }
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: ROUTER_MANDATORY and the peer is gone.
    return {ErrorCode::kUnavailable, std::string("send: ") + e.what()};
  }
}

Status send_error(zmq::socket_t& socket, Layout layout, const Envelope& req, const Status& status,
                  zmq::send_flags flags) {
  proto::ErrorBody body{static_cast<std::uint16_t>(status.code()), status.message(), status.failed_endpoint()};
  return send_envelope(socket, layout, &req.routing, proto::Command::kError, req.seq, encode(body), nullptr, flags);
}

Status error_from(const Envelope& reply) {
  proto::ErrorBody body;
  if (Status s = decode(reply.body, &body); !s.ok()) return {ErrorCode::kBadRequest, "unreadable error reply"};
  if (body.code == 0 || body.code > static_cast<std::uint16_t>(ErrorCode::kAnnouncing))
    return {ErrorCode::kInternal, body.message};
  const auto code = static_cast<ErrorCode>(body.code);
  if (code != ErrorCode::kForwardFailed) body.failed_endpoint.clear();
  return {code, std::move(body.message), std::move(body.failed_endpoint)};
}

}  // namespace p2p::codec
