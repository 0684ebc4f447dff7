// Codec: the framing of every p2p-share message and the checked msgpack
// decoding of its parts. All cppzmq and msgpack exceptions stop here.
//
// Frames, after any ROUTER routing frames and the empty delimiter:
//   [header] [body] [data?]
// header = msgpack [version u8, command u8, seq u64]; body = msgpack array
// (a proto:: struct); data = raw chunk bytes, present only where the
// protocol says so. The header is decoded for the caller; the body is decoded
// by decode<T>() once the command tells which struct it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "common/limits.h"
#include "common/protocol.h"
#include "common/status.h"

namespace p2p::codec {

// Which envelope a socket type sees around [header][body][data?].
enum class Layout {
  kRouter,  // [routing...][empty] ...   ROUTER sockets, and the transfer workers' DEALERs
            //                           (the proxy passes the ROUTER's frames on as they are)
  kDealer,  // [empty] ...               DEALER sockets (we always add the delimiter)
};

// The header frame. Public for tools that frame messages themselves
// (bench/zmtp_dealer.h); everything else goes through the envelope calls.
struct Header {
  std::uint8_t version = 0;
  std::uint8_t command = 0;
  std::uint64_t seq = 0;
  MSGPACK_DEFINE(version, command, seq)
};

struct Envelope {
  std::vector<zmq::message_t> routing;  // kRouter only, without the delimiter
  std::uint8_t version = 0;
  std::uint8_t command = 0;  // raw; check with proto::is_known_command
  std::uint64_t seq = 0;
  zmq::message_t body;
  zmq::message_t data;
  bool has_data = false;

  proto::Command cmd() const { return static_cast<proto::Command>(command); }
};

// Receives one whole message. Returns kTimeout when nothing is waiting (only
// with recv_flags::dontwait). Returns kBadRequest when the frames are
// malformed: then `out->routing` is filled when a reply is possible (check
// reply_possible) and extra frames have been drained. kVersion when the
// header's version is not ours. Never throws.
Status recv_envelope(zmq::socket_t& socket, Layout layout, Envelope* out,
                     zmq::recv_flags flags = zmq::recv_flags::dontwait);

// Waits until `deadline` for one whole message on `socket` (polling it) and
// receives it as recv_envelope does. kTimeout when the deadline passes first.
Status recv_envelope_until(zmq::socket_t& socket, Layout layout, std::chrono::steady_clock::time_point deadline,
                           Envelope* out);

// True when `env` carries enough routing to address an error reply.
bool reply_possible(const Envelope& env, Layout layout);

// Sends [routing...][empty][header][body][data?]. `routing` is copied (cheap:
// identity frames are small); body and data are consumed. With dontwait, a
// full pipe or an unroutable ROUTER peer reports kUnavailable instead of
// blocking. Never throws.
Status send_envelope(zmq::socket_t& socket, Layout layout, const std::vector<zmq::message_t>* routing,
                     proto::Command command, std::uint64_t seq, zmq::message_t body,
                     zmq::message_t* data = nullptr, zmq::send_flags flags = zmq::send_flags::none);

// Bodies up to this size are packed into a per-thread buffer and copied
// into their message: one allocation (none up to libzmq's 33-byte inline
// size, which holds every header), where a buffer of their own cost two or
// three, freed later by libzmq's I/O thread under the allocating arena's
// lock (callgrind of the tracker under load: malloc and free ~15% of its
// instructions, docs/performance.md).
// Larger bodies (manifests of big files) are handed over without a copy.
inline constexpr std::size_t kEncodeCopyMaxBytes = 16 * 1024;

// The calling thread's packing buffer, emptied. Used by encode() only: the
// buffer is reused by the next encode on this thread.
msgpack::sbuffer& encode_scratch();
// The message of what encode() packed into `scratch`.
zmq::message_t take_encoded(msgpack::sbuffer& scratch);

// msgpack-encodes a body into a message.
template <class T>
zmq::message_t encode(const T& body) {
  msgpack::sbuffer& scratch = encode_scratch();
  msgpack::pack(scratch, body);
  return take_encoded(scratch);
}

// The unpack limits for a frame of `size` bytes: no container may claim more
// elements than there are bytes (msgpack-c would allocate before reading).
msgpack::unpack_limit limits_for(std::size_t size);

// Values one body may hold in all: the largest real body, a manifest of
// limits::kMaxChunksPerFile chunks or a SEARCH reply of 10,000 entries, holds
// well under this. msgpack-c unpacks every value into a 24-byte object before
// any field is checked, so without it one 16 MiB body of empty arrays cost a
// tracker 1.7 GB and 9.7 s to refuse.
inline constexpr std::size_t kMaxBodyValues = std::size_t{1} << 20;

// Checks, before anything is unpacked, that [data, data + size) is exactly one
// msgpack value of at most kMaxBodyValues values nested at most
// limits::kMaxDepth deep. kBadRequest otherwise. Never throws. decode() runs
// it only on bodies larger than kMaxBodyValues bytes: a smaller one cannot
// hold more values than it has bytes, and its depth and trailing bytes are
// checked while it is unpacked. The walk on every body cost ~400
// instructions, a third of decoding a small body (1,350 -> 955, callgrind).
Status check_body(const void* data, std::size_t size);

// The calling thread's unpacking zone, for decode() only: it keeps its first
// chunk across clear(), so decoding a small body allocates nothing there.
msgpack::zone& decode_zone();

// Decodes [data, data + size) (or a frame) as T with check_body and
// limits_for(size). kBadRequest on malformed msgpack, bytes after the value,
// wrong types or exceeded limits. Never throws. *out is replaced whole, and
// only on success: a field an older sender leaves off (structs grow at their
// end) has its default, not what *out held.
template <class T>
Status decode(const void* data, std::size_t size, T* out) {
  // Unpacked into the thread's zone (decode_zone) and converted before the
  // zone is cleared: no 8 KiB zone allocated and freed per message.
  if (size > kMaxBodyValues) {
    if (Status s = check_body(data, size); !s.ok()) return s;
  }
  msgpack::zone& zone = decode_zone();
  try {
    std::size_t parsed = 0;
    const msgpack::object obj =
        msgpack::unpack(zone, static_cast<const char*>(data), size, parsed, nullptr, nullptr, limits_for(size));
    if (parsed != size) {
      zone.clear();
      return {ErrorCode::kBadRequest, "undecodable body: " + std::to_string(size - parsed) + " bytes after it"};
    }
    T value;
    obj.convert(value);
    zone.clear();
    *out = std::move(value);
    return Status::Ok();
  } catch (const std::exception& e) {
    zone.clear();
    return {ErrorCode::kBadRequest, std::string("undecodable body: ") + e.what()};
  }
}

template <class T>
Status decode(const zmq::message_t& frame, T* out) {
  return decode(frame.data(), frame.size(), out);
}

// Convenience: reply kOk with `body` to the sender of `req`.
template <class T>
Status send_reply(zmq::socket_t& socket, Layout layout, const Envelope& req, const T& body,
                  zmq::message_t* data = nullptr, zmq::send_flags flags = zmq::send_flags::none) {
  return send_envelope(socket, layout, &req.routing, proto::Command::kOk, req.seq, encode(body), data, flags);
}

// Reply kError with `status` (code and message) to the sender of `req`.
Status send_error(zmq::socket_t& socket, Layout layout, const Envelope& req, const Status& status,
                  zmq::send_flags flags = zmq::send_flags::none);

// Decodes an ErrorBody into the Status it carries (its failed_endpoint for
// forward_failed only); kBadRequest if unreadable.
Status error_from(const Envelope& reply);

}  // namespace p2p::codec
