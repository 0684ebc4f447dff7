// p2p-bench-zmq-stream: the raw ZeroMQ ceiling for our data plane, in the
// manner of libzmq's perf/local_thr + remote_thr but in one process.
//
// A sender thread with a context of its own (so it has its own I/O thread,
// as a second process would) binds tcp://127.0.0.1 on an OS-chosen port and
// streams --bytes in --message-size messages; the main thread connects,
// receives them and times it. Patterns:
//   push    PUSH -> PULL
//   dealer  DEALER -> ROUTER (a put's shape: the client's DEALER sends chunks)
//   router  ROUTER -> DEALER (a get's shape: the peer's ROUTER sends chunks)
// Each message is built with zmq::message_t(buf, size): one copy per message,
// as our peers do when they send a chunk they read.
//
// Prints one line (or, with --json, one JSON object):
//   seconds     from just before the sender starts to the last byte received
//   mb_per_s    bytes / seconds, MB = 10^6 B
//   steady      the same from the first message received to the last
// Exit status: 0 measured, 1 failed (timeout, ZeroMQ error), 2 usage.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "common/sockets.h"
#include "common/status.h"

namespace {

using p2p::Clock;
using p2p::ErrorCode;
using p2p::Status;

constexpr std::size_t kDefaultMessage = 1 << 20;        // our chunk size
constexpr std::uint64_t kDefaultTotal = 1ULL << 30;     // the benchmark's 1 GiB file
constexpr int kDefaultTimeoutMs = 10000;                // no progress for this long = failure
constexpr std::int64_t kFrameSlack = 64 * 1024;         // room above the message for framing

struct Options {
  std::string pattern = "dealer";
  std::size_t message_size = kDefaultMessage;
  std::uint64_t total_bytes = kDefaultTotal;
  int timeout_ms = kDefaultTimeoutMs;
  bool json = false;
};

struct Shape {
  zmq::socket_type sender;
  zmq::socket_type receiver;
  bool receiver_routes;  // the receiver is a ROUTER: a routing-id frame precedes the data
  bool sender_routes;    // the sender is a ROUTER: it waits for a hello to learn the receiver's id
};

Shape shape_of(const std::string& pattern) {
  if (pattern == "push") return {zmq::socket_type::push, zmq::socket_type::pull, false, false};
  if (pattern == "router") return {zmq::socket_type::router, zmq::socket_type::dealer, false, true};
  return {zmq::socket_type::dealer, zmq::socket_type::router, true, false};
}

std::uint64_t message_count(const Options& o) {
  return (o.total_bytes + o.message_size - 1) / o.message_size;
}

// The sender thread. Owns its context and socket. Publishes the bound
// endpoint through `endpoint`, streams, then waits for `done` (the receiver
// has everything) before closing: with linger 0 a close would drop messages
// still queued.
Status run_sender(const Options& o, const Shape& shape, std::promise<std::string>& endpoint,
                  std::shared_future<void> done) {
  bool published = false;
  try {
    zmq::context_t ctx(1);
    zmq::socket_t s = p2p::make_socket(ctx, shape.sender, static_cast<std::int64_t>(o.message_size) + kFrameSlack);
    s.set(zmq::sockopt::sndtimeo, o.timeout_ms);
    if (shape.sender_routes) s.set(zmq::sockopt::router_mandatory, 1);
    s.bind("tcp://127.0.0.1:*");
    endpoint.set_value(p2p::bound_endpoint(s));
    published = true;

    zmq::message_t routing_id;
    if (shape.sender_routes) {
      std::vector<zmq::pollitem_t> items{{s.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::chrono::milliseconds(o.timeout_ms));
      if (!(items[0].revents & ZMQ_POLLIN)) return {ErrorCode::kTimeout, "no hello from the receiver"};
      zmq::message_t hello;
      (void)s.recv(routing_id);
      while (s.get(zmq::sockopt::rcvmore)) (void)s.recv(hello);
    }
    std::vector<char> buf(o.message_size, 'x');
    std::uint64_t left = o.total_bytes;
    for (std::uint64_t i = 0, n = message_count(o); i < n; ++i) {
      std::size_t len = left < o.message_size ? static_cast<std::size_t>(left) : o.message_size;
      left -= len;
      if (shape.sender_routes) {
        zmq::message_t id(routing_id.data(), routing_id.size());
        if (!s.send(id, zmq::send_flags::sndmore)) return {ErrorCode::kTimeout, "send timed out"};
      }
      zmq::message_t m(buf.data(), len);
      if (!s.send(m, zmq::send_flags::none)) return {ErrorCode::kTimeout, "send timed out"};
    }
    if (done.wait_for(std::chrono::milliseconds(o.timeout_ms)) != std::future_status::ready)
      return {ErrorCode::kTimeout, "receiver did not finish"};
    return {};
  } catch (const std::exception& e) {
    if (!published) endpoint.set_exception(std::current_exception());
    return {ErrorCode::kInternal, e.what()};
  }
}

struct Timing {
  Clock::time_point first;
  Clock::time_point last;
};

// The receiving side, on the calling thread with its own context and socket.
p2p::Result<Timing> run_receiver(const Options& o, const Shape& shape, const std::string& endpoint) {
  try {
    zmq::context_t ctx(1);
    zmq::socket_t s = p2p::make_socket(ctx, shape.receiver, static_cast<std::int64_t>(o.message_size) + kFrameSlack);
    s.connect(endpoint);
    if (shape.sender_routes) s.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    std::vector<zmq::pollitem_t> items{{s.handle(), 0, ZMQ_POLLIN, 0}};
    Timing t{};
    std::uint64_t got = 0;
    zmq::message_t m;
    while (got < o.total_bytes) {
      items[0].revents = 0;
      zmq::poll(items, std::chrono::milliseconds(o.timeout_ms));
      if (!(items[0].revents & ZMQ_POLLIN))
        return Status{ErrorCode::kTimeout, "no data for " + std::to_string(o.timeout_ms) + " ms after " +
                                               std::to_string(got) + " bytes"};
      // Drain what is ready without polling again between messages.
      while (got < o.total_bytes && s.recv(m, zmq::recv_flags::dontwait)) {
        if (shape.receiver_routes) (void)s.recv(m);  // the routing id came first; now the data
        if (got == 0) t.first = Clock::now();
        got += m.size();
      }
    }
    t.last = Clock::now();
    return t;
  } catch (const std::exception& e) {
    return Status{ErrorCode::kInternal, e.what()};
  }
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Raw ZeroMQ stream over tcp://127.0.0.1: the data plane's ceiling"};
  app.add_option("--pattern", o.pattern, "push (PUSH->PULL), dealer (DEALER->ROUTER) or router (ROUTER->DEALER)")
      ->check(CLI::IsMember({"push", "dealer", "router"}));
  app.add_option("--message-size", o.message_size, "bytes per message (default 1 MiB, our chunk size)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
  app.add_option("--bytes", o.total_bytes, "bytes to stream in all (default 1 GiB)")->check(CLI::PositiveNumber);
  app.add_option("--timeout-ms", o.timeout_ms, "fail after this long without progress")->check(CLI::PositiveNumber);
  app.add_flag("--json", o.json, "print one JSON object instead of a line of text");
  CLI11_PARSE(app, argc, argv);

  const Shape shape = shape_of(o.pattern);
  std::promise<std::string> endpoint;
  std::future<std::string> endpoint_ready = endpoint.get_future();
  std::promise<void> done;
  std::shared_future<void> done_seen = done.get_future().share();
  Status sent;

  const Clock::time_point start = Clock::now();
  std::thread sender([&] { sent = run_sender(o, shape, endpoint, done_seen); });
  p2p::Result<Timing> got = Status{ErrorCode::kTimeout, "sender did not bind"};
  try {
    if (endpoint_ready.wait_for(std::chrono::milliseconds(o.timeout_ms)) == std::future_status::ready)
      got = run_receiver(o, shape, endpoint_ready.get());
  } catch (const std::exception& e) {
    got = Status{ErrorCode::kInternal, e.what()};
  }
  done.set_value();
  sender.join();

  if (!got.ok() || !sent.ok()) {
    std::fprintf(stderr, "p2p-bench-zmq-stream: %s\n", (!got.ok() ? got.status() : sent).to_string().c_str());
    return 1;
  }
  const double total_s = seconds(got->last - start);
  const double steady_s = seconds(got->last - got->first);
  const double mb = static_cast<double>(o.total_bytes) / 1e6;
  const double steady_mb = static_cast<double>(o.total_bytes - std::min<std::uint64_t>(o.total_bytes, o.message_size)) / 1e6;
  if (o.json) {
    std::printf(
        "{\"pattern\":\"%s\",\"message_bytes\":%zu,\"total_bytes\":%llu,\"seconds\":%.6f,"
        "\"mb_per_s\":%.1f,\"steady_mb_per_s\":%.1f}\n",
        o.pattern.c_str(), o.message_size, static_cast<unsigned long long>(o.total_bytes), total_s,
        mb / total_s, steady_s > 0 ? steady_mb / steady_s : 0.0);
  } else {
    std::printf("zmq %s: %llu B in %zu-B messages, %.3f s, %.1f MB/s (steady %.1f MB/s)\n", o.pattern.c_str(),
                static_cast<unsigned long long>(o.total_bytes), o.message_size, total_s, mb / total_s,
                steady_s > 0 ? steady_mb / steady_s : 0.0);
  }
  return 0;
}
