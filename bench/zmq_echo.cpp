// p2p-bench-zmq-echo: the ceiling for the tracker's request rate.
//
//   p2p-bench-zmq-echo [--listen tcp://127.0.0.1:0] [--io-threads 2]
//
// A ROUTER that sends every message it receives straight back, frames and
// all, and does nothing else: no decoding, no index, no reply to build. Run
// p2p-bench-tracker-load --echo against it and the figure is what ZeroMQ
// round trips alone reach on this machine with the same clients, sockets and
// load tool as the tracker's figure, so the tracker's req/s can be read as a
// ratio of it. Prints "listening <endpoint>" once bound; runs until SIGINT or
// SIGTERM. Exit status: 0 stopped by a signal, 1 ZeroMQ error, 2 usage.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "common/limits.h"
#include "common/sockets.h"
#include "common/stop_signals.h"

namespace {

// Longest wait for a message: bounds how late a stop signal is noticed.
constexpr std::chrono::milliseconds kPollSlice{100};
// Messages echoed per wake-up before looking at signals again (the tracker's
// broker drains in batches too).
constexpr int kBatch = 256;

// ZeroMQ I/O threads: p2p-tracker's default (--io-threads), so that the
// ceiling spreads its connections as the tracker does.
constexpr int kDefaultIoThreads = 2;

int run(const std::string& listen, int io_threads) {
  p2p::StopSignals signals;  // before any thread exists (libzmq's included)
  zmq::context_t ctx(io_threads);
  zmq::socket_t router = p2p::make_socket(ctx, zmq::socket_type::router, p2p::limits::kMaxControlMessage);
  router.bind(p2p::normalize_bind_endpoint(listen));
  std::printf("listening %s\n", p2p::bound_endpoint(router).c_str());
  std::fflush(stdout);
  std::vector<zmq::message_t> frames;
  // A signal check is a syscall: one per slice, not one per batch, so that
  // the ceiling is not charged for it.
  auto next_signal_check = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_signal_check) {
      if (signals.wait(std::chrono::milliseconds(0))) return 0;
      next_signal_check = std::chrono::steady_clock::now() + kPollSlice;
    }
    std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, kPollSlice);
    for (int i = 0; i < kBatch; ++i) {
      frames.clear();
      do {
        zmq::message_t m;
        if (!router.recv(m, zmq::recv_flags::dontwait)) break;
        frames.push_back(std::move(m));
      } while (frames.back().more());
      if (frames.empty()) break;
      // A reply that cannot be queued is dropped: the client then reports a
      // timeout, which fails the measurement loudly.
      for (std::size_t f = 0; f < frames.size(); ++f)
        (void)router.send(frames[f], (f + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none) |
                                         zmq::send_flags::dontwait);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "tcp://127.0.0.1:0";
  CLI::App app{"p2p-bench-zmq-echo: a ROUTER that echoes every message (the tracker's ceiling)"};
  int io_threads = kDefaultIoThreads;
  app.add_option("--listen", listen, "endpoint to bind (':0' picks a free port)")->capture_default_str();
  app.add_option("--io-threads", io_threads, "ZeroMQ I/O threads (p2p-tracker's default)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run(listen, io_threads);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "zmq-echo: %s\n", e.what());
    return 1;
  }
}
