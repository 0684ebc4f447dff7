// Hash: a SHA-256 digest, the address of a chunk and the id of a file.
//
// On the wire a Hash is a msgpack bin of exactly 32 bytes; anything else is
// rejected (msgpack's own std::array adaptor accepts short bins, so it is not
// used). In text (CLI, logs, file names) it is 64 lowercase hex digits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <msgpack.hpp>

namespace p2p {

struct Hash {
  static constexpr std::size_t kSize = 32;  // SHA-256
  std::array<std::uint8_t, kSize> bytes{};

  std::string hex() const;
  // Parses exactly 64 hex digits (either case); nullopt otherwise.
  static std::optional<Hash> from_hex(std::string_view text);

  friend bool operator==(const Hash&, const Hash&) = default;
  friend auto operator<=>(const Hash&, const Hash&) = default;
};

struct HashHasher {
  std::size_t operator()(const Hash& h) const noexcept {
    std::size_t v;  // SHA-256 output is uniform: its first bytes are a fine hash
    static_assert(sizeof(v) <= Hash::kSize);
    __builtin_memcpy(&v, h.bytes.data(), sizeof(v));
    return v;
  }
};

}  // namespace p2p

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

template <>
struct convert<p2p::Hash> {
  const msgpack::object& operator()(const msgpack::object& o, p2p::Hash& v) const {
    if (o.type != msgpack::type::BIN || o.via.bin.size != p2p::Hash::kSize) throw msgpack::type_error();
    __builtin_memcpy(v.bytes.data(), o.via.bin.ptr, p2p::Hash::kSize);
    return o;
  }
};

template <>
struct pack<p2p::Hash> {
  template <typename Stream>
  msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& o, const p2p::Hash& v) const {
    o.pack_bin(p2p::Hash::kSize);
    o.pack_bin_body(reinterpret_cast<const char*>(v.bytes.data()), p2p::Hash::kSize);
    return o;
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
