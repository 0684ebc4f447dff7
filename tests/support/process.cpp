#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace p2p::test {

namespace {

using Clock = std::chrono::steady_clock;

// How often wait() re-checks a child; short so tests do not idle.
constexpr auto kReapPollInterval = std::chrono::milliseconds(5);

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// RAII for posix_spawn_file_actions_t.
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
};

std::vector<char*> make_argv(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

pid_t spawn(const std::string& binary, const std::vector<std::string>& args, FileActions& fa) {
  if (::access(binary.c_str(), X_OK) != 0) throw std::runtime_error("not executable: " + binary);
  std::vector<char*> argv = make_argv(binary, args);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, binary.c_str(), &fa.actions, nullptr, argv.data(), environ);
  if (rc != 0) throw std::runtime_error("posix_spawn " + binary + ": " + std::strerror(rc));
  return pid;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string bin_path(const std::string& name) {
  const char* env = std::getenv("P2P_BIN_DIR");
  std::string dir = (env != nullptr && *env != '\0') ? env : P2P_BIN_DIR;
  return dir + "/" + name;
}

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const std::filesystem::path& stderr_log)
    : log_(stderr_log) {
  int out[2];
  // Close-on-exec so concurrently spawned children do not inherit each other's
  // pipes (a leaked write end would hide EOF); dup2 in the child clears it.
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  FileActions fa;
  posix_spawn_file_actions_addopen(&fa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa.actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa.actions, STDERR_FILENO, stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  try {
    pid_ = spawn(binary, args, fa);
  } catch (...) {
    ::close(out[0]);
    ::close(out[1]);
    throw;
  }
  ::close(out[1]);
  stdout_fd_ = out[0];
}

Process::~Process() { release(); }

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      stdout_buffer_(std::move(other.stdout_buffer_)),
      exit_code_(other.exit_code_),
      log_(std::move(other.log_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stdout_buffer_ = std::move(other.stdout_buffer_);
    exit_code_ = other.exit_code_;
    log_ = std::move(other.log_);
  }
  return *this;
}

void Process::release() noexcept {
  if (pid_ > 0 && !exit_code_) kill_and_wait();
  close_fd(stdout_fd_);
  pid_ = -1;
}

bool Process::read_more(Clock::time_point deadline) {
  for (;;) {
    if (stdout_fd_ < 0) return false;
    pollfd p{stdout_fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;  // deadline
    char buf[4096];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // EOF: the child closed stdout or exited
      close_fd(stdout_fd_);
      return false;
    }
    stdout_buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<std::string> Process::read_listening(std::chrono::milliseconds timeout) {
  return read_line("listening ", timeout);
}

std::optional<std::string> Process::read_line(std::string_view prefix, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  do {
    // Consume complete lines already buffered.
    for (std::size_t nl; (nl = stdout_buffer_.find('\n')) != std::string::npos;) {
      std::string line = stdout_buffer_.substr(0, nl);
      stdout_buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
  } while (read_more(deadline));
  return std::nullopt;
}

std::optional<std::string> Process::read_stdout(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (read_more(deadline)) {
  }
  if (stdout_fd_ >= 0) return std::nullopt;  // the deadline came first
  return std::exchange(stdout_buffer_, {});
}

bool Process::signal(int sig) {
  if (pid_ <= 0 || exit_code_) return false;
  return ::kill(pid_, sig) == 0;
}

bool Process::try_reap() {
  if (exit_code_) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return true;
  }
  if (r < 0 && errno == ECHILD) {  // someone else reaped it; treat as gone
    exit_code_ = -1;
    return true;
  }
  return false;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (try_reap()) return exit_code_;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kReapPollInterval);
  }
}

bool Process::running() { return pid_ > 0 && !try_reap(); }

int Process::kill_and_wait() {
  if (pid_ <= 0) return -1;
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    pid_t r;
    do r = ::waitpid(pid_, &status, 0);
    while (r < 0 && errno == EINTR);
    exit_code_ = r == pid_ ? decode_status(status) : -1;
  }
  return *exit_code_;
}

std::string Process::log_tail(std::size_t max_bytes) const { return read_text(log_, max_bytes); }

std::string read_text(const std::filesystem::path& path, std::size_t max_tail_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  std::size_t start = size > max_tail_bytes ? size - max_tail_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

RunResult run(const std::string& binary, const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error("pipe2 failed");
  }
  pid_t pid;
  {
    FileActions fa;
    posix_spawn_file_actions_addopen(&fa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa.actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa.actions, err[1], STDERR_FILENO);
    try {
      pid = spawn(binary, args, fa);
    } catch (...) {
      for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
      throw;
    }
  }
  ::close(out[1]);
  ::close(err[1]);

  RunResult result;
  result.command = binary;
  for (const auto& a : args) result.command += " " + a;
  int fds[2] = {out[0], err[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[2];
    nfds_t n = 0;
    int index[2];
    for (int i = 0; i < 2; ++i)
      if (fds[i] >= 0) {
        p[n] = {fds[i], POLLIN, 0};
        index[n++] = i;
      }
    int left = remaining_ms(deadline);
    if (left == 0) {
      result.timed_out = true;
      break;
    }
    int rc = ::poll(p, n, left);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      result.timed_out = true;
      break;
    }
    for (nfds_t k = 0; k < n; ++k) {
      if (p[k].revents == 0) continue;
      int i = index[k];
      char buf[65536];
      ssize_t got = ::read(fds[i], buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close_fd(fds[i]);
      } else {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      }
    }
  }
  for (int& fd : fds) close_fd(fd);

  if (result.timed_out) ::kill(pid, SIGKILL);
  // stdout and stderr closed: the child has exited or is exiting. Reap with a
  // deadline anyway (it may have closed both and kept running).
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      status = -1;
      break;
    }
    if (Clock::now() >= deadline && !result.timed_out) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(kReapPollInterval);
  }
  result.exit_code = result.timed_out ? -1 : (status == -1 ? -1 : decode_status(status));
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace p2p::test
