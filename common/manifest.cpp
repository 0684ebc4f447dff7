#include "common/manifest.h"

#include "common/file_name.h"
#include "common/limits.h"
#include "common/sha256.h"

namespace p2p {

std::uint64_t chunk_count_for(std::uint64_t size, std::uint32_t chunk_size) {
  // Not (size + chunk_size - 1) / chunk_size: a size from the network near
  // 2^64 would wrap to zero chunks and pass validate().
  return chunk_size == 0 ? 0 : size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

Hash Manifest::file_id() const {
  // Sized to the packed manifest (a hash packs into 34 bytes): msgpack's
  // default 8 KiB would be most of the work for a small file, and the tracker
  // computes one for every file a peer announces.
  msgpack::sbuffer buf(64 + name.size() + 34 * chunks.size());
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack(name);
  pk.pack(size);
  pk.pack(chunk_size);
  pk.pack(chunks);
  return sha256(buf.data(), buf.size());
}

std::uint32_t Manifest::chunk_length(std::uint64_t index) const {
  std::uint64_t start = chunk_offset(index);
  std::uint64_t end = std::min<std::uint64_t>(size, start + chunk_size);
  return static_cast<std::uint32_t>(end - start);
}

Status Manifest::validate() const {
  if (Status s = validate_name(name); !s.ok()) return s;
  if (chunk_size < limits::kMinChunkSize || chunk_size > limits::kMaxChunkSize)
    return {ErrorCode::kBadRequest, "chunk size " + std::to_string(chunk_size) + " out of range"};
  if (chunk_count_for(size, chunk_size) > limits::kMaxChunksPerFile)
    return {ErrorCode::kBadRequest, std::to_string(size) + " bytes need more than " +
                                        std::to_string(limits::kMaxChunksPerFile) + " chunks of " +
                                        std::to_string(chunk_size) + " bytes"};
  if (chunks.size() != chunk_count_for(size, chunk_size))
    return {ErrorCode::kBadRequest, "manifest lists " + std::to_string(chunks.size()) + " chunks for " +
                                        std::to_string(size) + " bytes"};
  if (replicas > limits::kMaxReplicas) return {ErrorCode::kBadRequest, "replicas out of range"};
  return Status::Ok();
}

}  // namespace p2p
