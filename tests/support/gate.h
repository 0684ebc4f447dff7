// Gate: a one-way door between a test's threads. A thread waits at it until
// another opens it; every wait has a limit, so a test that fails before it
// opens the gate ends instead of hanging. Once open it stays open.
//
// Thread affinity: any thread. Lifetime: outlives every thread that waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace p2p::test {

class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // True once open; false when `limit` passed first.
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace p2p::test
