// TempDir: a fresh, uniquely named directory under /tmp for one test.
//
// Ownership: the object owns the directory and removes it recursively in its
// destructor, so a failing or throwing test leaves nothing behind. Set
// P2P_KEEP_TEST_DIRS=1 to keep it for a post-mortem (the path is logged).
// Not copyable; movable. Thread-compatible (no internal locking).
#pragma once

#include <filesystem>
#include <string_view>

namespace p2p::test {

class TempDir {
 public:
  // Creates /tmp/<prefix>-XXXXXX (mkdtemp). Throws std::runtime_error on failure.
  explicit TempDir(std::string_view prefix = "p2p-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view child) const { return path_ / child; }

 private:
  void remove() noexcept;
  std::filesystem::path path_;  // empty once moved from
};

}  // namespace p2p::test
