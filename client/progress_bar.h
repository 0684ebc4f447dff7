// ProgressBar: bytes done, rate and ETA on one stderr line.
//
// Drawn only when enabled (stderr is a TTY and not --quiet; see
// progress_enabled()), at most ~10 times a second so a fast transfer is not
// slowed by terminal output. Thread affinity: one thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/sockets.h"

namespace p2p::client {

// True when stderr is a terminal and the user did not ask for quiet.
bool progress_enabled(bool quiet);

class ProgressBar {
 public:
  ProgressBar(std::string label, std::uint64_t total, bool enabled);
  ~ProgressBar();  // clears the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void add(std::uint64_t bytes);
  void finish();  // clears the line; idempotent

 private:
  void draw();

  std::string label_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

// "1.5 MiB": sizes for people.
std::string human_bytes(std::uint64_t bytes);

}  // namespace p2p::client
