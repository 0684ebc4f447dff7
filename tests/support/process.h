// Process: a child process a test started (tracker, peer, or a long `p2p get`).
//
// Ownership: the object owns the child. Its destructor SIGKILLs and reaps a
// child that is still running, so processes are cleaned up even when a test
// fails or throws. stdout arrives through a pipe (servers print one
// `listening <endpoint>` line there); stderr goes to a log file; stdin is
// /dev/null. Not copyable; movable. One thread at a time per object.
//
// run() is the run-to-completion helper for the `p2p` CLI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::test {

// Full path of one of the build's binaries ("p2p-tracker", "p2p-peer", "p2p"),
// from P2P_BIN_DIR (set by tests/CMakeLists.txt), overridable by the
// environment variable of the same name.
std::string bin_path(const std::string& name);

class Process {
 public:
  // Starts `binary` with `args` (argv[0] is the binary). Throws
  // std::runtime_error if the child cannot be started.
  Process(const std::string& binary, const std::vector<std::string>& args, const std::filesystem::path& stderr_log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  pid_t pid() const { return pid_; }
  const std::filesystem::path& log_path() const { return log_; }

  // Reads stdout until a line `listening <endpoint>` and returns the endpoint;
  // nullopt if the deadline passes or the child closes stdout (e.g. exits) first.
  std::optional<std::string> read_listening(std::chrono::milliseconds timeout);

  // Reads stdout until a line that starts with `prefix` and returns the rest
  // of it; lines before it are consumed. nullopt as read_listening.
  std::optional<std::string> read_line(std::string_view prefix, std::chrono::milliseconds timeout);

  // Reads stdout to its end (the child closed it or exited) and returns what
  // was not consumed yet; nullopt if the deadline passes first.
  std::optional<std::string> read_stdout(std::chrono::milliseconds timeout);

  // Sends `sig`; false if the child is already reaped.
  bool signal(int sig);

  // Waits for the child to exit. Returns its exit code (128+N if killed by
  // signal N), or nullopt if it is still running at the deadline.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  // True until the child has exited (reaps it if it just did).
  bool running();

  // SIGKILL and reap; no-op if already reaped. Returns the exit status as wait().
  int kill_and_wait();

  // The last `max_bytes` of the stderr log, for failure messages.
  std::string log_tail(std::size_t max_bytes = 4000) const;

 private:
  bool try_reap();  // non-blocking waitpid; records exit_code_
  // Appends what stdout has to stdout_buffer_, waiting until `deadline` for
  // it; false at the deadline or at EOF (then stdout_fd_ is closed).
  bool read_more(std::chrono::steady_clock::time_point deadline);
  void release() noexcept;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buffer_;  // bytes read from stdout not yet consumed
  std::optional<int> exit_code_;
  std::filesystem::path log_;
};

struct RunResult {
  std::string command;  // for failure messages
  int exit_code = -1;  // 128+N if killed by signal N; -1 if it timed out
  bool timed_out = false;
  std::string out;
  std::string err;
  double seconds = 0;  // wall time
};

// Runs `binary args...` to completion, capturing stdout and stderr. Kills it
// (SIGKILL) if it is still running after `timeout`. Safe to call from several
// threads at once (posix_spawn, close-on-exec pipes).
RunResult run(const std::string& binary, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The text of a file, or "" if it cannot be read (for logs in failure messages).
std::string read_text(const std::filesystem::path& path, std::size_t max_tail_bytes = 1 << 20);

}  // namespace p2p::test
