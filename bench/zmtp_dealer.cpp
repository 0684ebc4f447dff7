#include "bench/zmtp_dealer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/sockets.h"

namespace p2p::bench {

namespace {

// RFC 23 frame flags.
constexpr unsigned char kMore = 0x01;
constexpr unsigned char kLong = 0x02;
constexpr unsigned char kCommand = 0x04;
constexpr std::size_t kGreeting = 64;
// Largest read per call: a whole burst of small replies in one syscall.
constexpr std::size_t kReadSize = 64 << 10;

std::string greeting() {
  std::string g(kGreeting, '\0');
  g[0] = static_cast<char>(0xFF);  // signature: FF, 8 bytes padding, 7F
  g[9] = 0x7F;
  g[10] = 3;  // version 3.0
  g[11] = 0;
  std::memcpy(&g[12], "NULL", 4);  // mechanism, zero-padded to 20; as-server 0; filler
  return g;
}

std::string ready_command() {
  std::string body;
  body += static_cast<char>(5);
  body += "READY";
  body += static_cast<char>(11);
  body += "Socket-Type";
  body += std::string("\0\0\0\6", 4);  // value length, 4 bytes big-endian
  body += "DEALER";
  std::string cmd;
  cmd += static_cast<char>(kCommand);
  cmd += static_cast<char>(body.size());
  return cmd + body;
}

void put_size(std::string* out, unsigned char flags, std::size_t size) {
  if (size <= 255) {
    out->push_back(static_cast<char>(flags));
    out->push_back(static_cast<char>(size));
    return;
  }
  out->push_back(static_cast<char>(flags | kLong));
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(static_cast<std::uint64_t>(size) >> (8 * i)));
}

// Reads exactly n bytes before `deadline` from a blocking-mode handshake.
Status read_exact(int fd, char* p, std::size_t n, Clock::time_point deadline) {
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(until(deadline).count()));
    if (ready == 0) return {ErrorCode::kTimeout, "ZMTP handshake: no answer"};
    if (ready < 0 && errno != EINTR) return {ErrorCode::kIo, std::string("poll: ") + std::strerror(errno)};
    if (ready < 0) continue;
    const ssize_t r = ::read(fd, p, n);
    if (r == 0) return {ErrorCode::kIo, "ZMTP handshake: connection closed"};
    if (r < 0 && errno != EINTR && errno != EAGAIN) return errno_status("read", "ZMTP handshake", errno);
    if (r < 0) continue;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

Status write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return {ErrorCode::kUnavailable, "send would block"};
    if (w < 0) return errno_status("write", "ZMTP peer", errno);
    done += static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

}  // namespace

Result<ZmtpDealer> ZmtpDealer::connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                                       std::size_t max_message) {
  const Clock::time_point deadline = Clock::now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return Status{ErrorCode::kBadRequest, "not an IPv4 address: " + host};
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_status("socket", host, errno);
  ZmtpDealer d(fd, max_message);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as libzmq does
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return errno_status("connect", host, errno);
  if (Status s = write_all(fd, greeting() + ready_command()); !s.ok()) return s;
  char theirs[kGreeting];
  if (Status s = read_exact(fd, theirs, kGreeting, deadline); !s.ok()) return s;
  if (static_cast<unsigned char>(theirs[0]) != 0xFF || theirs[9] != 0x7F || theirs[10] < 3 ||
      std::memcmp(&theirs[12], "NULL", 4) != 0)
    return Status{ErrorCode::kBadRequest, "not a ZMTP 3 NULL peer"};
  unsigned char flags[2];
  if (Status s = read_exact(fd, reinterpret_cast<char*>(flags), 2, deadline); !s.ok()) return s;
  if (!(flags[0] & kCommand) || (flags[0] & kLong)) return Status{ErrorCode::kBadRequest, "no short READY command"};
  std::string ready(flags[1], '\0');
  if (Status s = read_exact(fd, ready.data(), ready.size(), deadline); !s.ok()) return s;
  if (ready.compare(0, 6, "\5READY") != 0) return Status{ErrorCode::kBadRequest, "expected READY"};
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return errno_status("fcntl", host, errno);
  return d;
}

ZmtpDealer::ZmtpDealer(ZmtpDealer&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      max_message_(other.max_message_),
      in_(std::move(other.in_)),
      out_(std::move(other.out_)) {}

ZmtpDealer& ZmtpDealer::operator=(ZmtpDealer&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    max_message_ = other.max_message_;
    in_ = std::move(other.in_);
    out_ = std::move(other.out_);
  }
  return *this;
}

ZmtpDealer::~ZmtpDealer() {
  if (fd_ >= 0) ::close(fd_);
}

Status ZmtpDealer::send(const std::vector<std::string_view>& frames) {
  out_.clear();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    put_size(&out_, i + 1 < frames.size() ? kMore : 0, frames[i].size());
    out_.append(frames[i]);
  }
  return write_all(fd_, out_);
}

Status ZmtpDealer::receive(std::vector<std::vector<std::string>>* out) {
  char buf[kReadSize];
  for (;;) {
    const ssize_t r = ::read(fd_, buf, sizeof buf);
    if (r > 0) {
      in_.append(buf, static_cast<std::size_t>(r));
      if (static_cast<std::size_t>(r) == sizeof buf) continue;  // maybe more waiting
      break;
    }
    if (r == 0) return {ErrorCode::kIo, "peer closed the connection"};
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    return errno_status("read", "ZMTP peer", errno);
  }
  return parse(out);
}

Status ZmtpDealer::parse(std::vector<std::vector<std::string>>* out) {
  std::size_t at = 0;  // start of the first message not yet taken
  for (;;) {
    std::size_t p = at;
    std::vector<std::string> frames;
    std::size_t total = 0;
    bool whole = false;
    while (p + 2 <= in_.size()) {
      const auto flags = static_cast<unsigned char>(in_[p]);
      if (flags & kCommand) return {ErrorCode::kBadRequest, "unexpected ZMTP command"};
      std::size_t size = 0, head = 2;
      if (flags & kLong) {
        head = 9;
        if (p + head > in_.size()) break;
        for (int i = 1; i <= 8; ++i) size = size << 8 | static_cast<unsigned char>(in_[p + i]);
      } else {
        size = static_cast<unsigned char>(in_[p + 1]);
      }
      // Compared before adding: a long frame may claim up to 2^64 - 1 bytes.
      if (size > max_message_ - total) return {ErrorCode::kBadRequest, "message larger than the limit"};
      total += size;
      if (p + head + size > in_.size()) break;
      frames.emplace_back(in_, p + head, size);
      p += head + size;
      if (!(flags & kMore)) {
        whole = true;
        break;
      }
    }
    if (!whole) break;
    out->push_back(std::move(frames));
    at = p;
  }
  in_.erase(0, at);
  return Status::Ok();
}

}  // namespace p2p::bench
