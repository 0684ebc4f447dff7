#include "services/peer/peer_id.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "common/log.h"

namespace p2p::peer {

namespace {

constexpr std::size_t kPeerIdHexDigits = 16;  // 64 random bits: no collisions in any realistic network

std::string random_peer_id() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < kPeerIdHexDigits; ++i) id += kHex[rd() % 16];
  return id;
}

Status write_durably(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {ErrorCode::kIo, "create " + tmp.string() + ": " + std::strerror(errno)};
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int err = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return {ErrorCode::kIo, "write " + path.string() + ": " + std::strerror(ok ? errno : err)};
  }
  return Status::Ok();
}

}  // namespace

std::uint64_t new_incarnation() {
  std::random_device rd;
  std::uint64_t v = 0;
  while (v == 0) v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return v;
}

bool is_valid_peer_id(const std::string& id) {
  if (id.size() != kPeerIdHexDigits) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::string> load_or_create_peer_id(const std::filesystem::path& dir) {
  std::filesystem::path path = dir / "peer_id";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    std::string id;
    if (!(in >> id)) id.clear();
    if (is_valid_peer_id(id)) return id;
    P2P_WARN("%s is malformed; creating a new peer id", path.c_str());
  }
  std::string id = random_peer_id();
  if (Status s = write_durably(path, id + "\n"); !s.ok()) return s;
  return id;
}

}  // namespace p2p::peer
