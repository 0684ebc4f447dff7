#include "common/stop_signals.h"

#include <pthread.h>

#include <cerrno>

namespace p2p {

StopSignals::StopSignals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

std::optional<int> StopSignals::wait(std::chrono::milliseconds timeout) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts{static_cast<time_t>(secs.count()),
                    static_cast<long>(std::chrono::nanoseconds(timeout - secs).count())};
  const int sig = sigtimedwait(&set_, nullptr, &ts);
  if (sig == SIGINT || sig == SIGTERM) return sig;
  return std::nullopt;  // timeout (EAGAIN) or EINTR: the caller's loop decides
}

}  // namespace p2p
