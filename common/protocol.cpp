#include "common/protocol.h"

namespace p2p::proto {

const char* command_name(Command c) {
  switch (c) {
    case Command::kReady: return "READY";
    case Command::kHeartbeat: return "HEARTBEAT";
    case Command::kDisconnect: return "DISCONNECT";
    case Command::kAnnounce: return "ANNOUNCE";
    case Command::kReplicated: return "REPLICATED";
    case Command::kRemoved: return "REMOVED";
    case Command::kDrain: return "DRAIN";
    case Command::kLeave: return "LEAVE";
    case Command::kDelete: return "DELETE";
    case Command::kRelease: return "RELEASE";
    case Command::kPlace: return "PLACE";
    case Command::kPublish: return "PUBLISH";
    case Command::kLocate: return "LOCATE";
    case Command::kSearch: return "SEARCH";
    case Command::kList: return "LIST";
    case Command::kStat: return "STAT";
    case Command::kPeers: return "PEERS";
    case Command::kStatus: return "STATUS";
    case Command::kReplicate: return "REPLICATE";
    case Command::kGetChunk: return "GET_CHUNK";
    case Command::kPutChunk: return "PUT_CHUNK";
    case Command::kCommit: return "COMMIT";
    case Command::kGetManifest: return "GET_MANIFEST";
    case Command::kPing: return "PING";
    case Command::kCheckChunk: return "CHECK_CHUNK";
    case Command::kOk: return "OK";
    case Command::kError: return "ERROR";
  }
  return "UNKNOWN";
}

bool is_known_command(std::uint8_t c) {
  return std::string_view(command_name(static_cast<Command>(c))) != "UNKNOWN";
}

}  // namespace p2p::proto
