#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace p2p::client {

namespace {
// ~10 redraws a second: smooth to the eye, negligible cost.
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
}  // namespace

bool progress_enabled(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) == 1; }

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::add(std::uint64_t bytes) {
  done_ += bytes;
  if (!enabled_) return;
  auto now = Clock::now();
  if (now - last_draw_ < kRedrawInterval && done_ < total_) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::draw() {
  double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  char eta[32] = "--:--";
  if (rate > 0 && total_ >= done_) {
    auto left = static_cast<long long>(static_cast<double>(total_ - done_) / rate);
    std::snprintf(eta, sizeof eta, "%lld:%02lld", left / 60, left % 60);
  }
  int percent = total_ == 0 ? 100 : static_cast<int>(100.0 * static_cast<double>(done_) / static_cast<double>(total_));
  // \r and "erase to end of line": redraw in place on the terminal.
  std::fprintf(stderr, "\r\x1b[K%s %3d%%  %s / %s  %s/s  ETA %s", label_.c_str(), percent, human_bytes(done_).c_str(),
               human_bytes(total_).c_str(), human_bytes(static_cast<std::uint64_t>(rate)).c_str(), eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  enabled_ = false;  // nothing is drawn after the end
  if (!drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace p2p::client
