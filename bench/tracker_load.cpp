// p2p-bench-tracker-load: closed-loop load on a tracker, libzmq-perf style.
//
//   p2p-bench-tracker-load --tracker EP [--clients 64] [--duration 5] [--threads 2] [--json FILE]
//   p2p-bench-tracker-load --echo --tracker EP ...     (EP: a p2p-bench-zmq-echo)
//
// First a SEARCH for every name (the index must hold files: put some first).
// Then C clients, each its own DEALER (so its own routing identity at the
// tracker), keep exactly one request in flight each, alternating LOCATE of a
// random known name and SEARCH of a pattern (--pattern, or by default a random
// known name, which must match at least that file). The clients are spread
// over --threads threads that multiplex them with zmq::poll, so 64 clients do
// not need 64 threads on 2 cores. Every reply is checked: OK, the request's
// seq, a body that decodes, and (LOCATE) the file asked for.
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

#include <CLI/CLI.hpp>
#include <zmq.hpp>

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
  int threads = 2;
  std::string json;
  std::string pattern;  // empty: a random known name per SEARCH
  bool echo = false;    // the endpoint is p2p-bench-zmq-echo (see the top)
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
  msgpack::sbuffer buf;
  msgpack::pack(buf, body);
  return std::string(buf.data(), buf.size());
}

struct Client {
  zmq::socket_t socket;
  std::uint64_t seq = 0;
  Clock::time_point sent{};
  std::size_t name = 0;    // index of the name asked for
  bool locate = true;      // the request in flight is a LOCATE (else SEARCH)
  bool dead = false;       // timed out or failed to send: no more requests
};

struct ThreadResult {
  std::vector<std::uint32_t> latencies_us;  // measured requests only
  std::uint64_t answered = 0;               // every good reply, warm-up included
  std::uint64_t errors = 0;
  std::string first_error;
};

class LoadThread {
 public:
  LoadThread(zmq::context_t& ctx, const Options& options, const Workload& work, int clients, unsigned seed)
      : ctx_(ctx), options_(options), work_(work), clients_(clients), rng_(seed) {}

  ThreadResult run(Clock::time_point measure_from, Clock::time_point measure_until) {
    std::vector<Client> clients(static_cast<std::size_t>(clients_));
    std::vector<zmq::pollitem_t> items;
    for (Client& c : clients) {
      c.socket = p2p::make_socket(ctx_, zmq::socket_type::dealer, p2p::limits::kMaxControlMessage);
      c.socket.connect(options_.tracker);
      c.locate = (rng_() & 1) != 0;
      send(c);
      items.push_back({c.socket.handle(), 0, ZMQ_POLLIN, 0});
    }
    result_.latencies_us.reserve(1 << 20);
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (now >= measure_until) break;
      zmq::poll(items, std::min(p2p::until(measure_until), kPollSlice));
      for (std::size_t i = 0; i < clients.size(); ++i) {
        Client& c = clients[i];
        if (c.dead) continue;
        if (items[i].revents & ZMQ_POLLIN) {
          receive(c, measure_from, measure_until);
        } else if (Clock::now() - c.sent > kRequestTimeout) {
          fail(c, "no reply within " + std::to_string(kRequestTimeout.count()) + " ms");
        }
      }
    }
    return std::move(result_);
  }

 private:
  void fail(Client& c, const std::string& why) {
    ++result_.errors;
    if (result_.first_error.empty()) result_.first_error = why;
    c.dead = true;
  }

  void send(Client& c) {
    c.locate = !c.locate;
    c.name = std::uniform_int_distribution<std::size_t>(0, work_.names.size() - 1)(rng_);
    const std::string& body = request_body(c);
    c.sent = Clock::now();
    Status s = codec::send_envelope(c.socket, codec::Layout::kDealer, nullptr,
                                    c.locate ? proto::Command::kLocate : proto::Command::kSearch, ++c.seq,
                                    zmq::message_t(body.data(), body.size()), nullptr, zmq::send_flags::dontwait);
    if (!s.ok()) fail(c, "send: " + s.to_string());
  }

  const std::string& request_body(const Client& c) const {
    if (c.locate) return work_.locate_bodies[c.name];
    return options_.pattern.empty() ? work_.search_bodies[c.name] : work_.search_bodies[0];
  }

  // Drains every reply waiting on the client's socket (at most one is ours).
  void receive(Client& c, Clock::time_point measure_from, Clock::time_point measure_until) {
    for (;;) {
      codec::Envelope env;
      Status s = codec::recv_envelope(c.socket, codec::Layout::kDealer, &env);
      if (s.code() == ErrorCode::kTimeout) return;
      const Clock::time_point now = Clock::now();
      if (!s.ok()) return fail(c, "malformed reply: " + s.to_string());
      if (env.seq != c.seq) return fail(c, "reply with seq " + std::to_string(env.seq) + ", expected " + std::to_string(c.seq));
      if (options_.echo) {
        if (env.cmd() != (c.locate ? proto::Command::kLocate : proto::Command::kSearch) ||
            env.body.size() != request_body(c).size())
          return fail(c, "the echo is not the request sent");
      } else {
        if (env.cmd() == proto::Command::kError) return fail(c, "ERROR reply: " + codec::error_from(env).to_string());
        if (env.cmd() != proto::Command::kOk) return fail(c, "unexpected reply command");
        if (Status d = check_body(c, env); !d.ok()) return fail(c, d.to_string());
      }
      ++result_.answered;
      if (c.sent >= measure_from && now <= measure_until) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - c.sent).count();
        result_.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
      }
      send(c);
      if (c.dead) return;
    }
  }

  Status check_body(const Client& c, const codec::Envelope& env) {
    if (c.locate) {
      proto::LocateReply reply;
      if (Status s = codec::decode(env.body, &reply); !s.ok()) return s;
      if (reply.manifest.name != work_.names[c.name] || reply.holders.empty())
        return {ErrorCode::kBadRequest, "LOCATE " + work_.names[c.name] + " answered another file or no holder"};
      return Status::Ok();
    }
    proto::ListReply reply;
    if (Status s = codec::decode(env.body, &reply); !s.ok()) return s;
    if (options_.pattern.empty() && reply.files.empty())
      return {ErrorCode::kBadRequest, "SEARCH " + work_.names[c.name] + " found nothing"};
    return Status::Ok();
  }

  zmq::context_t& ctx_;
  const Options& options_;
  const Workload& work_;
  int clients_;
  std::mt19937_64 rng_;
  ThreadResult result_;
};

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
        LoadThread thread(ctx, options, work, n, 0x9e3779b9u + static_cast<unsigned>(t));
        results[static_cast<std::size_t>(t)] = thread.run(measure_from, measure_until);
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
  if (const char* env = std::getenv("P2P_TRACKER")) options.tracker = env;
  CLI::App app{"p2p-bench-tracker-load: closed-loop LOCATE/SEARCH load on a tracker"};
  app.add_option("--tracker", options.tracker, "tracker endpoint (env P2P_TRACKER)")->capture_default_str();
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
