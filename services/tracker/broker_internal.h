// Helpers shared by the broker's source files (broker.cpp, broker_services.cpp,
// broker_requests.cpp); not part of the broker's interface.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/protocol.h"

namespace p2p::tracker::detail {

using proto::Command;
inline constexpr auto kRouter = codec::Layout::kRouter;
inline constexpr auto kDontWait = zmq::send_flags::dontwait;


// The registry keys services by their routing frames flattened into one
// string: each frame as a 4-byte length and its bytes. Peers connect
// directly, so that is one frame; the encoding still round-trips any count.
inline std::string routing_key(const std::vector<zmq::message_t>& routing) {
  std::string key;
  for (const auto& frame : routing) {
    const auto n = static_cast<std::uint32_t>(frame.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(frame.data<char>(), frame.size());
  }
  return key;
}

inline std::vector<zmq::message_t> routing_frames(const std::string& key) {
  std::vector<zmq::message_t> frames;
  std::size_t at = 0;
  while (at + sizeof(std::uint32_t) <= key.size()) {
    std::uint32_t n;
    std::memcpy(&n, key.data() + at, sizeof n);
    at += sizeof n;
    frames.emplace_back(key.data() + at, n);
    at += n;
  }
  return frames;
}

// Hex of the routing frames, "/"-separated: how connections appear in logs.
inline std::string routing_text(const std::string& key) {
  static const char* kDigits = "0123456789abcdef";
  std::string text;
  for (const auto& frame : routing_frames(key)) {
    if (!text.empty()) text += '/';
    for (std::size_t i = 0; i < frame.size(); ++i) {
      auto b = static_cast<unsigned char>(frame.data<char>()[i]);
      text += kDigits[b >> 4];
      text += kDigits[b & 15];
    }
  }
  return text.empty() ? "?" : text;
}

// 0 is never a command: it means the header itself was unreadable.
inline std::string command_text(std::uint8_t command) {
  if (command == 0) return "message";
  return proto::is_known_command(command) ? proto::command_name(static_cast<Command>(command))
                                          : "command " + std::to_string(command);
}

inline unsigned long long ull(std::uint64_t v) { return v; }

}  // namespace p2p::tracker::detail
