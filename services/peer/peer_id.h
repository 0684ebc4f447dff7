// A peer's identity: 16 random hex digits in DATA_DIR/peer_id, created once,
// so the tracker recognises a restarted peer and replaces its holdings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"

namespace p2p::peer {

// Reads DIR/peer_id, or creates it (durably) when absent or malformed.
// REQUIRES: DIR exists. kIo when it cannot be read or written.
Result<std::string> load_or_create_peer_id(const std::filesystem::path& dir);

bool is_valid_peer_id(const std::string& id);

// This process's incarnation (ReadyBody::incarnation): 64 random bits, never
// 0, drawn once at start, so the tracker tells a reconnect of this process
// from a restart of the peer (docs/protocol.md 5.1).
std::uint64_t new_incarnation();

}  // namespace p2p::peer
