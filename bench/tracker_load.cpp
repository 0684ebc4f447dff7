// p2p-bench-tracker-load: closed-loop load on a tracker, libzmq-perf style.
//
//   p2p-bench-tracker-load --tracker EP [--clients 64] [--duration 5] [--threads 1]
//                          [--wire zmtp|zmq] [--json FILE]
//   p2p-bench-tracker-load --echo --tracker EP ...     (EP: a p2p-bench-zmq-echo)
//
// First a SEARCH for every name (the index must hold files: put some first).
// Then C clients, each its own DEALER connection (so its own routing identity
// at the tracker), keep exactly one request in flight each, alternating
// LOCATE of a random known name and SEARCH of a pattern (--pattern, or by
// default a random known name, which must match at least that file). The
// clients are spread over --threads threads, so 64 clients do not need 64
// threads on 2 cores. Every reply is checked: OK, the request's seq, a body
// that decodes, and (LOCATE) the file asked for.
//
// --wire says what a client is. zmtp (the default): a ZmtpDealer
// (bench/zmtp_dealer.h), ZMTP 3.0 spoken over a plain socket, all of a
// thread's clients on one epoll set: the cheapest client there is, so that
// the figure is the tracker's and not the tool's. zmq: a libzmq DEALER each,
// multiplexed with zmq::poll, as 64 processes of our client library would
// connect; on 2 shared cores that tool costs more CPU per request than the
// tracker does (docs/performance.md).
//
// --echo measures the ceiling instead: the same clients send the same
// requests (for 1,000 made-up names) to p2p-bench-zmq-echo, which sends each
// back untouched, and a reply counts when it is the request itself (same
// command, seq and body size). No tracker work is in that figure.
//
// Prints one line: requests, req/s, p50, p99, max latency, errors. --json FILE
// writes {"clients","duration_s","requests","req_per_s","p50_ms","p99_ms",
// "max_ms","errors","answered"} (bench scripts read exactly these keys;
// answered counts the warm-up's replies too). Exit 0 when the
// run completed with no errors, 1 otherwise, 2 on bad flags.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "bench/zmtp_dealer.h"

#include "common/codec.h"
#include "common/limits.h"
#include "common/protocol.h"
#include "common/sockets.h"
#include "common/tracker_client.h"

namespace {

using p2p::Clock;
using p2p::ErrorCode;
using p2p::Status;
namespace codec = p2p::codec;
namespace proto = p2p::proto;

// Time the clients run before measuring: connections are set up and the
// first round trips (TCP handshake, ZMTP greeting) are not counted.
constexpr std::chrono::milliseconds kWarmup{500};
// A request unanswered this long counts as an error (and its client stops).
constexpr std::chrono::milliseconds kRequestTimeout{5000};
// Longest single poll: bounds how late a thread notices the end of the run.
constexpr std::chrono::milliseconds kPollSlice{50};

struct Options {
  std::string tracker = "tcp://127.0.0.1:5555";
  int clients = 64;
  double duration_s = 5;
  int threads = 1;
  std::string json;
  std::string pattern;  // empty: a random known name per SEARCH
  bool echo = false;    // the endpoint is p2p-bench-zmq-echo (see the top)
  std::string wire = "zmtp";  // zmtp: bench/zmtp_dealer.h clients; zmq: libzmq DEALERs
};

// Made-up names for --echo: as many as the bench's index holds.
constexpr int kEchoNames = 1000;

// Request bodies encoded once: the tool should spend its CPU on the wire,
// not on msgpack, since it shares the 2 cores with the tracker.
struct Workload {
  std::vector<std::string> names;
  std::vector<std::string> locate_bodies;
  std::vector<std::string> search_bodies;
};

template <class T>
std::string encoded(const T& body) {
  return codec::encode(body).to_string();
}

// One client's request in flight. The transport (a libzmq DEALER or a
// ZmtpDealer) is kept beside it by the thread that drives it.
struct ClientState {
  std::uint64_t seq = 0;
  Clock::time_point sent{};
  std::size_t name = 0;  // index of the name asked for
  bool locate = true;    // the request in flight is a LOCATE (else SEARCH)
  bool dead = false;     // timed out or failed: no more requests
};

struct ThreadResult {
  std::vector<std::uint32_t> latencies_us;  // measured requests only
  std::uint64_t answered = 0;               // every good reply, warm-up included
  std::uint64_t errors = 0;
  std::string first_error;
};

// What every load thread does whatever its transport: choose the next
// request, judge a reply, count it.
class LoadLogic {
 protected:
  LoadLogic(const Options& options, const Workload& work, unsigned seed)
      : options_(options), work_(work), rng_(seed) {}

  // Turns `c` to its next request (LOCATE and SEARCH alternate, a random
  // name each) and stamps it sent; returns the body to send with ++c.seq.
  const std::string& next(ClientState& c) {
    c.locate = !c.locate;
    c.name = std::uniform_int_distribution<std::size_t>(0, work_.names.size() - 1)(rng_);
    c.sent = Clock::now();
    ++c.seq;
    return body_of(c);
  }

  proto::Command command_of(const ClientState& c) const {
    return c.locate ? proto::Command::kLocate : proto::Command::kSearch;
  }

  const std::string& body_of(const ClientState& c) const {
    if (c.locate) return work_.locate_bodies[c.name];
    return options_.pattern.empty() ? work_.search_bodies[c.name] : work_.search_bodies[0];
  }

  // A reply to `c` with this header and body arrived at `now`: checks it
  // (fails `c` if wrong) and counts it.
  void on_reply(ClientState& c, std::uint8_t command, std::uint64_t seq, std::string_view body,
                Clock::time_point now, Clock::time_point measure_from, Clock::time_point measure_until) {
    if (seq != c.seq) return fail(c, "reply with seq " + std::to_string(seq) + ", expected " + std::to_string(c.seq));
    const auto cmd = static_cast<proto::Command>(command);
    if (options_.echo) {
      if (cmd != command_of(c) || body.size() != body_of(c).size()) return fail(c, "the echo is not the request sent");
    } else {
      if (cmd == proto::Command::kError) {
        proto::ErrorBody error;
        return fail(c, "ERROR reply: " + (codec::decode(body.data(), body.size(), &error).ok() ? error.message
                                                                                              : "(unreadable)"));
      }
      if (cmd != proto::Command::kOk) return fail(c, "unexpected reply command");
      if (Status d = check_body(c, body); !d.ok()) return fail(c, d.to_string());
    }
    ++result_.answered;
    if (c.sent >= measure_from && now <= measure_until) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.sent).count();
      result_.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
    }
  }

  void fail(ClientState& c, const std::string& why) {
    ++result_.errors;
    if (result_.first_error.empty()) result_.first_error = why;
    c.dead = true;
  }

  void fail_if_late(ClientState& c) {
    if (!c.dead && Clock::now() - c.sent > kRequestTimeout)
      fail(c, "no reply within " + std::to_string(kRequestTimeout.count()) + " ms");
  }

  const Options& options_;
  const Workload& work_;
  std::mt19937_64 rng_;
  ThreadResult result_;

 private:
  Status check_body(const ClientState& c, std::string_view body) {
    if (c.locate) {
      proto::LocateReply reply;
      if (Status s = codec::decode(body.data(), body.size(), &reply); !s.ok()) return s;
      if (reply.manifest.name != work_.names[c.name] || reply.holders.empty())
        return {ErrorCode::kBadRequest, "LOCATE " + work_.names[c.name] + " answered another file or no holder"};
      return Status::Ok();
    }
    proto::ListReply reply;
    if (Status s = codec::decode(body.data(), body.size(), &reply); !s.ok()) return s;
    if (options_.pattern.empty() && reply.files.empty())
      return {ErrorCode::kBadRequest, "SEARCH " + work_.names[c.name] + " found nothing"};
    return Status::Ok();
  }
};

// --wire zmq: one libzmq DEALER per client, multiplexed with zmq::poll.
class ZmqLoadThread : LoadLogic {
 public:
  ZmqLoadThread(zmq::context_t& ctx, const Options& options, const Workload& work, int clients, unsigned seed)
      : LoadLogic(options, work, seed), ctx_(ctx), clients_(clients) {}

  ThreadResult run(Clock::time_point measure_from, Clock::time_point measure_until) {
    std::vector<ClientState> states(static_cast<std::size_t>(clients_));
    std::vector<zmq::socket_t> sockets;
    std::vector<zmq::pollitem_t> items;
    for (std::size_t i = 0; i < states.size(); ++i) {
      sockets.push_back(p2p::make_socket(ctx_, zmq::socket_type::dealer, p2p::limits::kMaxControlMessage));
      sockets.back().connect(options_.tracker);
      states[i].locate = (rng_() & 1) != 0;
      send(states[i], sockets.back());
      items.push_back({sockets.back().handle(), 0, ZMQ_POLLIN, 0});
    }
    result_.latencies_us.reserve(1 << 20);
    while (Clock::now() < measure_until) {
      zmq::poll(items, std::min(p2p::until(measure_until), kPollSlice));
      for (std::size_t i = 0; i < states.size(); ++i) {
        if (states[i].dead) continue;
        if (items[i].revents & ZMQ_POLLIN) receive(states[i], sockets[i], measure_from, measure_until);
        fail_if_late(states[i]);
      }
    }
    return std::move(result_);
  }

 private:
  void send(ClientState& c, zmq::socket_t& socket) {
    const std::string& body = next(c);
    Status s = codec::send_envelope(socket, codec::Layout::kDealer, nullptr, command_of(c), c.seq,
                                    zmq::message_t(body.data(), body.size()), nullptr, zmq::send_flags::dontwait);
    if (!s.ok()) fail(c, "send: " + s.to_string());
  }

  // Drains every reply waiting on the client's socket (at most one is ours).
  void receive(ClientState& c, zmq::socket_t& socket, Clock::time_point measure_from,
               Clock::time_point measure_until) {
    while (!c.dead) {
      codec::Envelope env;
      Status s = codec::recv_envelope(socket, codec::Layout::kDealer, &env);
      if (s.code() == ErrorCode::kTimeout) return;
      if (!s.ok()) return fail(c, "malformed reply: " + s.to_string());
      on_reply(c, env.command, env.seq, std::string_view(static_cast<const char*>(env.body.data()), env.body.size()),
               Clock::now(), measure_from, measure_until);
      if (!c.dead) send(c, socket);
    }
  }

  zmq::context_t& ctx_;
  int clients_;
};

// --wire zmtp: one ZmtpDealer per client, all on one epoll set: the tool's
// cost per request is one write and one read (see bench/zmtp_dealer.h).
class ZmtpLoadThread : LoadLogic {
 public:
  ZmtpLoadThread(const Options& options, const Workload& work, int clients, unsigned seed, std::string host, int port)
      : LoadLogic(options, work, seed), clients_(clients), host_(std::move(host)), port_(port) {}

  ThreadResult run(Clock::time_point measure_from, Clock::time_point measure_until) {
    const int poller = ::epoll_create1(EPOLL_CLOEXEC);
    if (poller < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{poller};
    std::vector<ClientState> states(static_cast<std::size_t>(clients_));
    std::vector<p2p::bench::ZmtpDealer> dealers;
    dealers.reserve(states.size());
    for (std::size_t i = 0; i < states.size(); ++i) {
      auto d = p2p::bench::ZmtpDealer::connect(host_, port_, kRequestTimeout, p2p::limits::kMaxControlMessage);
      if (!d.ok()) throw std::runtime_error("connect " + host_ + ": " + d.status().to_string());
      dealers.push_back(std::move(d).value());
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(poller, EPOLL_CTL_ADD, dealers[i].fd(), &ev) != 0)
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
      states[i].locate = (rng_() & 1) != 0;
      send(states[i], dealers[i]);
    }
    result_.latencies_us.reserve(1 << 20);
    std::vector<epoll_event> events(states.size());
    std::vector<std::vector<std::string>> messages;
    while (Clock::now() < measure_until) {
      const int wait = static_cast<int>(std::min(p2p::until(measure_until), kPollSlice).count());
      const int n = ::epoll_wait(poller, events.data(), static_cast<int>(events.size()), wait);
      for (int e = 0; e < n; ++e) {
        const std::size_t i = events[static_cast<std::size_t>(e)].data.u64;
        ClientState& c = states[i];
        if (c.dead) continue;
        messages.clear();
        if (Status s = dealers[i].receive(&messages); !s.ok()) {
          fail(c, s.to_string());
          ::epoll_ctl(poller, EPOLL_CTL_DEL, dealers[i].fd(), nullptr);
          continue;
        }
        for (const auto& frames : messages) {
          if (c.dead) break;
          on_message(c, frames, measure_from, measure_until);
          if (!c.dead) send(c, dealers[i]);
        }
      }
      for (ClientState& c : states) fail_if_late(c);
    }
    return std::move(result_);
  }

 private:
  void send(ClientState& c, p2p::bench::ZmtpDealer& dealer) {
    const std::string& body = next(c);
    const zmq::message_t header = codec::encode(codec::Header{proto::kVersion, static_cast<std::uint8_t>(command_of(c)), c.seq});
    Status s = dealer.send({std::string_view(), std::string_view(static_cast<const char*>(header.data()), header.size()),
                            std::string_view(body)});
    if (!s.ok()) fail(c, "send: " + s.to_string());
  }

  // A DEALER's reply: [empty delimiter][header][body].
  void on_message(ClientState& c, const std::vector<std::string>& frames, Clock::time_point measure_from,
                  Clock::time_point measure_until) {
    const Clock::time_point now = Clock::now();
    if (frames.size() != 3 || !frames[0].empty()) return fail(c, "malformed reply: not [empty][header][body]");
    codec::Header header;
    if (Status s = codec::decode(frames[1].data(), frames[1].size(), &header); !s.ok())
      return fail(c, "malformed header: " + s.to_string());
    if (header.version != proto::kVersion) return fail(c, "reply of protocol version " + std::to_string(header.version));
    on_reply(c, header.command, header.seq, frames[2], now, measure_from, measure_until);
  }

  int clients_;
  std::string host_;
  int port_;
};

// "tcp://A.B.C.D:PORT" -> host, port.
bool parse_tcp_endpoint(const std::string& endpoint, std::string* host, int* port) {
  const std::string prefix = "tcp://";
  const std::size_t colon = endpoint.rfind(':');
  if (endpoint.compare(0, prefix.size(), prefix) != 0 || colon == std::string::npos || colon < prefix.size())
    return false;
  *host = endpoint.substr(prefix.size(), colon - prefix.size());
  char* end = nullptr;
  const long p = std::strtol(endpoint.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535) return false;
  *port = static_cast<int>(p);
  return true;
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(at, sorted.size() - 1)] / 1000.0;
}

int run(const Options& options) {
  zmq::context_t ctx(1);
  Workload work;
  if (options.echo) {
    for (int i = 0; i < kEchoNames; ++i) {
      const std::string name = "echo-" + std::to_string(i) + ".bin";
      work.names.push_back(name);
      work.locate_bodies.push_back(encoded(proto::QueryRequest{name}));
      work.search_bodies.push_back(encoded(proto::SearchRequest{options.pattern.empty() ? name : options.pattern}));
    }
  } else {
    p2p::TrackerClient client(ctx, options.tracker, std::chrono::milliseconds(5000));
    proto::ListReply all;
    if (Status s = client.call(proto::Command::kSearch, proto::SearchRequest{}, &all); !s.ok()) {
      std::fprintf(stderr, "tracker-load: SEARCH for every name failed: %s\n", s.to_string().c_str());
      return 1;
    }
    for (const auto& f : all.files) {
      if (f.holders == 0) continue;  // LOCATE would answer unavailable
      work.names.push_back(f.name);
      work.locate_bodies.push_back(encoded(proto::QueryRequest{f.name}));
      work.search_bodies.push_back(encoded(proto::SearchRequest{options.pattern.empty() ? f.name : options.pattern}));
    }
  }
  if (work.names.empty()) {
    std::fprintf(stderr, "tracker-load: the tracker at %s indexes no available file; put some first\n",
                 options.tracker.c_str());
    return 1;
  }

  std::string host;
  int port = 0;
  if (options.wire == "zmtp" && !parse_tcp_endpoint(options.tracker, &host, &port)) {
    std::fprintf(stderr, "tracker-load: --wire zmtp needs tcp://IPv4:PORT, not %s\n", options.tracker.c_str());
    return 2;
  }
  const Clock::time_point start = Clock::now();
  const Clock::time_point measure_from = start + kWarmup;
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_s));
  const Clock::time_point measure_until = measure_from + duration;
  std::vector<ThreadResult> results(static_cast<std::size_t>(options.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < options.threads; ++t) {
    // Clients spread evenly: the first (clients % threads) threads take one more.
    const int n = options.clients / options.threads + (t < options.clients % options.threads ? 1 : 0);
    threads.emplace_back([&, t, n] {
      try {
        const unsigned seed = 0x9e3779b9u + static_cast<unsigned>(t);
        if (options.wire == "zmq") {
          ZmqLoadThread thread(ctx, options, work, n, seed);
          results[static_cast<std::size_t>(t)] = thread.run(measure_from, measure_until);
        } else {
          ZmtpLoadThread thread(options, work, n, seed, host, port);
          results[static_cast<std::size_t>(t)] = thread.run(measure_from, measure_until);
        }
      } catch (const std::exception& e) {
        results[static_cast<std::size_t>(t)].errors++;
        results[static_cast<std::size_t>(t)].first_error = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();

  std::vector<std::uint32_t> all;
  std::uint64_t errors = 0, answered = 0;
  std::string first_error;
  for (auto& r : results) {
    answered += r.answered;
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(all.begin(), all.end());
  const double seconds = options.duration_s;
  const double rate = static_cast<double>(all.size()) / seconds;
  const double p50 = percentile_ms(all, 0.50), p99 = percentile_ms(all, 0.99);
  const double max = all.empty() ? 0 : all.back() / 1000.0;
  std::printf("clients %d threads %d names %zu duration %.1f s: requests %zu, %.0f req/s, p50 %.3f ms, p99 %.3f ms, "
              "max %.3f ms, errors %llu\n",
              options.clients, options.threads, work.names.size(), seconds, all.size(), rate, p50, p99, max,
              static_cast<unsigned long long>(errors));
  if (!first_error.empty()) std::fprintf(stderr, "tracker-load: first error: %s\n", first_error.c_str());
  if (!options.json.empty()) {
    std::FILE* f = std::fopen(options.json.c_str(), "w");
    if (f == nullptr) {
      std::perror(options.json.c_str());
      return 1;
    }
    std::fprintf(f,
                 "{\"clients\": %d, \"duration_s\": %.3f, \"requests\": %zu, \"req_per_s\": %.1f, \"p50_ms\": %.4f, "
                 "\"p99_ms\": %.4f, \"max_ms\": %.4f, \"errors\": %llu, \"answered\": %llu}\n",
                 options.clients, seconds, all.size(), rate, p50, p99, max, static_cast<unsigned long long>(errors),
                 static_cast<unsigned long long>(answered));
    std::fclose(f);
  }
  return errors == 0 && !all.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"p2p-bench-tracker-load: closed-loop LOCATE/SEARCH load on a tracker"};
  app.add_option("--tracker", options.tracker, "tracker endpoint")->envname("P2P_TRACKER")->capture_default_str();
  app.add_option("--clients", options.clients, "concurrent clients, one request in flight each")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--duration", options.duration_s, "seconds measured (after a 0.5 s warm-up)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "threads the clients are spread over")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--json", options.json, "also write the figures as JSON to FILE");
  app.add_option("--pattern", options.pattern, "SEARCH this pattern (default: a random known name)");
  app.add_flag("--echo", options.echo, "the endpoint is p2p-bench-zmq-echo: measure the round-trip ceiling");
  app.add_option("--wire", options.wire, "zmtp: raw-socket ZMTP clients (cheap); zmq: libzmq DEALERs")
      ->check(CLI::IsMember({"zmtp", "zmq"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (options.threads > options.clients) options.threads = options.clients;
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tracker-load: %s\n", e.what());
    return 1;
  }
}
