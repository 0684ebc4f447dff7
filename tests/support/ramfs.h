// in_ramfs: runs a check in a child process that mounts a ramfs (a file
// system without O_DIRECT and without user xattrs) over a directory, for
// tests of what our code does on such file systems.
//
// The child makes a mount namespace of its own first, so the mount goes away
// with it, also when the test fails. Mounting needs root (CI and this
// machine's sessions run as root); elsewhere the check cannot run.
#pragma once

#include <filesystem>
#include <functional>

namespace p2p::test {

// The child's exit code when it could not mount the ramfs (not root).
inline constexpr int kNoRamfs = 77;

// Runs `check` in a forked child with a ramfs mounted at `dir` (which must
// exist) and returns its result as the child's exit code: `check`'s own
// return value (keep it within 0..76), kNoRamfs, or -1 when the child did
// not exit within 20 s (it is then killed) or died of a signal.
int in_ramfs(const std::filesystem::path& dir, const std::function<int()>& check);

}  // namespace p2p::test
