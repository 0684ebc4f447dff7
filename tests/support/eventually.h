// eventually(): the only way tests wait. Polls a condition until it holds or a
// deadline passes, instead of sleeping a guessed amount and hoping.
#pragma once

#include <chrono>
#include <functional>

namespace p2p::test {

// Calls `predicate` until it returns true (then returns true) or `timeout`
// has passed (then returns false, after one last try). `interval` is the pause
// between tries, short so tests finish as soon as the condition holds.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(50));

}  // namespace p2p::test
