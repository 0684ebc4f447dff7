// StopSignals: SIGINT and SIGTERM delivered to one thread as values, not handlers.
//
// Construct it in main before any thread exists (libzmq's I/O threads
// included): it resets both signals to their default disposition -- a shell
// starts background jobs with SIGINT ignored, and an ignored signal is
// discarded instead of left pending -- and blocks them, so every later thread
// inherits the mask and only wait() ever takes them.
// Thread affinity: wait() from the constructing thread only.
#pragma once

#include <chrono>
#include <csignal>
#include <optional>

namespace p2p {

class StopSignals {
 public:
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal number if SIGINT or SIGTERM arrived within `timeout`; nullopt otherwise.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  sigset_t set_;
};

}  // namespace p2p
