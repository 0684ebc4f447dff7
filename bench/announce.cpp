// p2p-bench-announce: peers that hold many files, made up, announcing them to
// a tracker: how long a tracker takes to index them, and whether it orders
// any copy or trim while they announce.
//
//   p2p-bench-announce --tracker EP [--peers 3] [--files 100000] [--rounds 1]
//                      [--heartbeat-ms 1000] [--liveness 3] [--round-timeout-s 900]
//                      [--linger-ms 0] [--json FILE]
//
// Each of --peers fake peers registers its three services (storage, transfer,
// replication) through ServiceLink, as p2p-peer does, and its storage service
// announces the same --files manifests (1-4 chunks of 1 MiB each, hashes made
// up: no bytes exist) in batches of limits::kMaxAnnounceBatch, as fast as the
// link takes them, then the complete marker. Peer i starts at file i x files /
// peers and wraps around, so a file's last holder announces it up to 2/3 of
// the announcement (3 peers) after its first. Every file is wanted at k =
// --peers, so every file has all its replicas once all have announced: a
// tracker that orders a REPLICATE or a DELETE meanwhile has planned from an
// index the peers had not finished filling (safe mode ended too early).
//
// A round begins when a storage link registers with a tracker (at the start,
// and again after the tracker restarts: the links rejoin as a peer's would)
// and ends when STATUS, asked every kStatusEvery once every batch is sent,
// says the index is complete with every file at its k holders. A script
// (bench/tracker_restart.sh) restarts the tracker between rounds.
//
// After the last round the peers stay --linger-ms (orders that come then
// count in the last round: the tracker's first plans after safe mode), then
// leave one by one, each timed from its DISCONNECT to the first STATUS that no
// longer counts it, and to the first that says no file lists it any more
// (index.departed_holdings 0): how long the tracker takes to drop a peer's
// holdings. STATUS is asked without pause meanwhile, so the tool also counts
// the answers that came while the departure was in progress and the slowest
// answer. With --stay N the last N peers do not leave, and --after-leave-ms
// then times STATUS for that long after the departures: the tracker's work
// when the departed peers' files end their repair grace (a line "after the
// departures: ...").
//
// Prints per round a line "round R: ..." (flushed, for the script to wait
// on): the time for all storage links to register, to send every batch, and
// to the complete index, the files indexed per second, the registrations of
// storage links (one a peer, unless a link took the tracker for dead and
// rejoined) and the orders the fake peers received; then a line "leave: ...".
// --json FILE writes {"peers","files","rounds":[{"round","joined_ms",
// "sent_ms","complete_ms","files_per_s","registrations","replicate","delete",
// "other"}],"leave_ms":[...],"departure_done_ms":[...],
// "answered_while_departing":[...],"slowest_status_ms":[...]} (the last four
// a peer, in order). Exit 0 when every round completed with one registration
// a peer and no order, and every departure was seen done; 1 otherwise, 2 on
// bad flags.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "common/codec.h"
#include "common/limits.h"
#include "common/manifest.h"
#include "common/protocol.h"
#include "common/service_link.h"
#include "common/sha256.h"
#include "common/tracker_client.h"

namespace {

using p2p::Clock;
using p2p::ErrorCode;
using p2p::Status;
namespace codec = p2p::codec;
namespace proto = p2p::proto;

// How often a round asks STATUS once its batches are sent: fine enough for a
// figure of seconds, rare enough to cost the tracker nothing.
constexpr std::chrono::milliseconds kStatusEvery{100};
// A STATUS unanswered this long is asked again (the tracker may be busy with
// a batch of announcements, or restarting).
constexpr std::chrono::milliseconds kStatusTimeout{2000};
// Longest poll: how late the loop notices a due STATUS or the end of a round.
constexpr std::chrono::milliseconds kPollSlice{20};
// ANNOUNCE batches a peer sends per pass of the loop: the other links get
// their turn (heartbeats) however slow encoding is (a sanitizer build).
constexpr int kBatchesPerPass = 16;
// Chunks a made-up file has at most (1 MiB each): manifests of a realistic
// mix of sizes, 2.5 chunks on average.
constexpr std::uint64_t kMaxChunks = 4;

struct Options {
  std::string tracker = "tcp://127.0.0.1:5555";
  int peers = 3;
  std::size_t files = 100000;
  int rounds = 1;
  int heartbeat_ms = 1000;
  int liveness = 3;
  int round_timeout_s = 900;
  int linger_ms = 0;
  int stay = 0;            // the last peers, which do not leave
  int after_leave_ms = 0;  // how long STATUS is timed after the departures, the staying peers on
  std::string json;
};

// The same made-up files on every peer: file i has 1 + i % kMaxChunks chunks.
std::vector<p2p::Manifest> made_up_files(std::size_t count, std::uint32_t replicas) {
  std::vector<p2p::Manifest> files(count);
  char name[64];
  for (std::size_t i = 0; i < count; ++i) {
    p2p::Manifest& m = files[i];
    std::snprintf(name, sizeof name, "announce-%08zu.bin", i);
    m.name = name;
    m.chunk_size = p2p::limits::kDefaultChunkSize;
    const std::uint64_t chunks = 1 + i % kMaxChunks;
    m.size = chunks * m.chunk_size - i % 1000;  // a short last chunk
    m.replicas = replicas;
    for (std::uint64_t c = 0; c < chunks; ++c) {
      const std::string text = m.name + "/" + std::to_string(c);
      m.chunks.push_back(p2p::sha256(text.data(), text.size()));
    }
  }
  return files;
}

struct RoundResult {
  int round = 0;
  double joined_ms = 0, sent_ms = 0, complete_ms = 0;
  std::uint64_t replicate = 0, del = 0, other = 0;
  // Storage links that registered in the round: one a peer, unless a link
  // took the tracker for dead (no heartbeat for liveness x heartbeat) and
  // rejoined, announcing everything again.
  std::uint64_t registrations = 0;
};

// One peer's leave, timed from its DISCONNECTs; -1: not seen in time.
struct Departure {
  double gone_ms = -1;  // STATUS no longer counts the peer
  double done_ms = -1;  // STATUS says no file lists a departed peer (index.departed_holdings 0)
  std::uint64_t answered_while_departing = 0;  // STATUS answers with index.departed_holdings > 0
  double slowest_status_ms = 0;                // the slowest STATUS round trip meanwhile
};

// One fake peer: its three service links and where its announcement is.
struct FakePeer {
  std::string id;
  std::unique_ptr<p2p::ServiceLink> storage, transfer, replication;
  std::size_t first = 0;      // the file it announces first (then in order, wrapping around)
  std::size_t next = 0;       // how many it announced on this connection
  bool sent_all = true;       // the complete marker went on this connection
  bool waiting_room = false;  // the storage link's queue was full: wait for POLLOUT
};

class Announcer {
 public:
  Announcer(zmq::context_t& ctx, const Options& options)
      : options_(options),
        files_(made_up_files(options.files, static_cast<std::uint32_t>(options.peers))),
        status_(ctx, options.tracker, kStatusTimeout) {
    std::mt19937_64 rng(std::random_device{}());
    for (int i = 0; i < options.peers; ++i) {
      FakePeer p;
      // 16 hex digits, as p2p-peer draws them (one more than a std::string
      // holds inline: the tracker's memory per holder is measured as it is).
      char id[17];
      std::snprintf(id, sizeof id, "a11ce%011x", static_cast<unsigned>(i + 1));
      p.id = id;
      // Each starts at another file, as peers that took their files in other
      // orders would: a file's holders announce it far apart in time, not
      // within a moment of each other.
      p.first = options.files * static_cast<std::size_t>(i) / static_cast<std::size_t>(options.peers);
      auto link = [&](const char* service) {
        p2p::ServiceLinkOptions o;
        o.tracker_endpoint = options.tracker;
        o.ready = proto::ReadyBody{p.id, service, "tcp://127.0.0.1:" + std::to_string(9 + i), std::uint64_t{1} << 40,
                                   std::uint64_t{1} << 40, rng() | 1};
        o.heartbeat = std::chrono::milliseconds(options.heartbeat_ms);
        o.liveness = options.liveness;
        o.free_bytes = [] { return std::uint64_t{1} << 40; };
        return std::make_unique<p2p::ServiceLink>(ctx, o);
      };
      p.storage = link(proto::kServiceStorage);
      p.transfer = link(proto::kServiceTransfer);
      p.replication = link(proto::kServiceReplication);
      peers_.push_back(std::move(p));
    }
  }

  // Runs --rounds rounds, then the timed departures; false when a round
  // timed out, saw an order or a link rejoin, or a departure was not seen.
  bool run() {
    bool clean = true;
    while (static_cast<int>(results_.size()) < options_.rounds) {
      std::optional<RoundResult> r = one_round();
      if (!r) return false;
      if (static_cast<int>(results_.size()) + 1 == options_.rounds) linger(&*r);  // its orders count in the round
      print(*r);
      clean = clean && r->replicate + r->del + r->other == 0 && r->registrations == peers_.size();
      results_.push_back(*r);
    }
    leave_timed();
    const auto unfinished = [](const Departure& d) { return d.done_ms < 0; };
    return clean && std::none_of(departures_.begin(), departures_.end(), unfinished);
  }

  const std::vector<RoundResult>& results() const { return results_; }
  const std::vector<Departure>& departures() const { return departures_; }

 private:
  std::optional<RoundResult> one_round() {
    RoundResult r;
    r.round = static_cast<int>(results_.size()) + 1;
    std::optional<Clock::time_point> begin;  // the first storage link registered
    Clock::time_point deadline = Clock::now() + std::chrono::seconds(options_.round_timeout_s);
    Clock::time_point next_status = Clock::time_point::min();
    auto ms_since_begin = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - *begin).count(); };
    while (Clock::now() < deadline) {
      poll_links();
      for (std::size_t i = 0; i < peers_.size(); ++i) {
        FakePeer& p = peers_[i];
        count_orders(p.transfer->process(readable(i, 1)), &r);
        count_orders(p.replication->process(readable(i, 2)), &r);
        p2p::LinkEvents ev = p.storage->process(readable(i, 0));
        count_orders(ev, &r);
        if (ev.rejoined) {
          ++r.registrations;
          p.next = 0;
          p.sent_all = false;
          if (!begin) begin = Clock::now();
          if (std::all_of(peers_.begin(), peers_.end(), [](const FakePeer& q) { return q.storage->joined(); }))
            r.joined_ms = ms_since_begin();
        }
        if (p.storage->joined() && !p.sent_all && !announce(p)) return std::nullopt;
      }
      const bool all_sent = begin && std::all_of(peers_.begin(), peers_.end(), [](const FakePeer& q) {
                              return q.sent_all && q.storage->joined();
                            });
      if (!all_sent || Clock::now() < next_status) continue;
      if (r.sent_ms == 0) r.sent_ms = ms_since_begin();
      next_status = Clock::now() + kStatusEvery;
      proto::StatusReply s;
      if (!status_.call(proto::Command::kStatus, proto::Empty{}, &s).ok()) continue;
      if (s.index.complete() && s.files == files_.size() && s.peers == peers_.size() && s.under_replicated == 0) {
        r.complete_ms = ms_since_begin();
        return r;
      }
    }
    std::fprintf(stderr, "announce: round %d did not complete within %d s\n", r.round, options_.round_timeout_s);
    return std::nullopt;
  }

  // Keeps the links of the peers not yet left up (heartbeats), counting the
  // orders that come.
  void pump(RoundResult* r) {
    poll_links();
    for (std::size_t i = first_live_; i < peers_.size(); ++i) {
      count_orders(peers_[i].storage->process(readable(i, 0)), r);
      count_orders(peers_[i].transfer->process(readable(i, 1)), r);
      count_orders(peers_[i].replication->process(readable(i, 2)), r);
    }
  }

  void linger(RoundResult* r) {
    const Clock::time_point until = Clock::now() + std::chrono::milliseconds(options_.linger_ms);
    while (Clock::now() < until) pump(r);
  }

  // Each peer leaves in turn; timed until STATUS counts one peer fewer, and
  // until it says no file lists a departed peer any more.
  void leave_timed() {
    RoundResult after;  // orders now are to peers on their way out: not counted
    const std::size_t leaving = peers_.size() - static_cast<std::size_t>(options_.stay);
    while (first_live_ < leaving) {
      FakePeer& p = peers_[first_live_++];
      const Clock::time_point start = Clock::now();
      p.storage->leave();
      p.transfer->leave();
      p.replication->leave();
      const Clock::time_point deadline = start + std::chrono::seconds(options_.round_timeout_s);
      auto since_start = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); };
      Departure d;
      while (Clock::now() < deadline) {
        proto::StatusReply s;
        const bool answered = timed_status(&s, &d.slowest_status_ms);
        if (answered && d.gone_ms < 0 && s.peers == peers_.size() - first_live_) d.gone_ms = since_start();
        if (answered && s.index.departed_holdings > 0) ++d.answered_while_departing;
        if (answered && d.gone_ms >= 0 && s.index.departed_holdings == 0) {
          d.done_ms = since_start();
          break;
        }
        pump(&after);
      }
      departures_.push_back(d);
    }
    std::printf("leave: %zu files a peer; STATUS counts the peer gone after", files_.size());
    for (const Departure& d : departures_) std::printf(" %.0f", d.gone_ms);
    std::printf(" ms; its files taken off after");
    for (const Departure& d : departures_) std::printf(" %.0f", d.done_ms);
    std::printf(" ms; STATUS answered meanwhile");
    for (const Departure& d : departures_) std::printf(" %llu", static_cast<unsigned long long>(d.answered_while_departing));
    std::printf(" times; slowest STATUS");
    for (const Departure& d : departures_) std::printf(" %.1f", d.slowest_status_ms);
    std::printf(" ms\n");
    if (options_.after_leave_ms > 0) time_after_leave(&after);
    std::fflush(stdout);
  }

  // One STATUS; `slowest` (ms) becomes its round trip if that is longer,
  // answered or not. True when it was answered.
  bool timed_status(proto::StatusReply* s, double* slowest) {
    const Clock::time_point asked = Clock::now();
    const bool answered = status_.call(proto::Command::kStatus, proto::Empty{}, s).ok();
    *slowest = std::max(*slowest, std::chrono::duration<double, std::milli>(Clock::now() - asked).count());
    return answered;
  }

  // STATUS asked without pause for --after-leave-ms, the staying peers on:
  // the tracker's work once the departed peers' files end their repair grace
  // (their loss sets emptied, the plans that follow).
  void time_after_leave(RoundResult* after) {
    const Clock::time_point until = Clock::now() + std::chrono::milliseconds(options_.after_leave_ms);
    std::uint64_t answered = 0;
    double slowest = 0;
    while (Clock::now() < until) {
      proto::StatusReply s;
      if (timed_status(&s, &slowest)) ++answered;
      pump(after);
    }
    std::printf("after the departures, %d peers staying: %llu STATUS answered in %d ms, the slowest %.1f ms\n",
                options_.stay, static_cast<unsigned long long>(answered), options_.after_leave_ms, slowest);
  }

  // Sends up to kBatchesPerPass batches while the link takes them; false on
  // a failure that is not a full queue.
  bool announce(FakePeer& p) {
    for (int sent = 0; !p.sent_all && sent < kBatchesPerPass; ++sent) {
      proto::AnnounceBody body;
      const std::size_t end = std::min(files_.size(), p.next + p2p::limits::kMaxAnnounceBatch);
      for (std::size_t i = p.next; i < end; ++i) body.files.push_back(files_[(p.first + i) % files_.size()]);
      body.complete = end == files_.size();
      Status s = p.storage->send(proto::Command::kAnnounce, codec::encode(body));
      p.waiting_room = s.code() == ErrorCode::kUnavailable;
      if (p.waiting_room) return true;
      if (!s.ok()) {
        std::fprintf(stderr, "announce: %s: ANNOUNCE not sent: %s\n", p.id.c_str(), s.to_string().c_str());
        return false;
      }
      p.next = end;
      p.sent_all = body.complete;
    }
    return true;
  }

  void poll_links() {
    items_.clear();
    Clock::time_point wake = Clock::now() + kPollSlice;
    for (std::size_t i = first_live_; i < peers_.size(); ++i) {
      FakePeer& p = peers_[i];
      for (p2p::ServiceLink* l : {p.storage.get(), p.transfer.get(), p.replication.get()}) {
        const bool room = l == p.storage.get() && p.waiting_room;
        items_.push_back({l->socket().handle(), 0, static_cast<short>(ZMQ_POLLIN | (room ? ZMQ_POLLOUT : 0)), 0});
        wake = std::min(wake, l->next_deadline());
      }
      if (p.storage->joined() && !p.sent_all && !p.waiting_room) wake = Clock::now();  // more to send now
    }
    const auto wait = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()));
    try {
      zmq::poll(items_, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // reported by main(); a closed context is not a round to wait out
      for (auto& i : items_) i.revents = 0;  // everyone looks again on the next pass
    }
  }

  // Link `which` (0 storage, 1 transfer, 2 replication) of peer `peer` had
  // input at the last poll (poll_links puts them in that order, from the
  // first peer not yet left).
  bool readable(std::size_t peer, std::size_t which) const {
    return (items_[3 * (peer - first_live_) + which].revents & ZMQ_POLLIN) != 0;
  }

  static void count_orders(const p2p::LinkEvents& ev, RoundResult* r) {
    for (const codec::Envelope& env : ev.commands) {
      if (env.cmd() == proto::Command::kReplicate)
        ++r->replicate;
      else if (env.cmd() == proto::Command::kDelete)
        ++r->del;
      else
        ++r->other;
    }
  }

  void print(const RoundResult& r) const {
    const double rate = r.complete_ms > 0 ? static_cast<double>(files_.size()) * 1000.0 / r.complete_ms : 0;
    std::printf("round %d: %d peers x %zu files: all registered %.0f ms, all batches sent %.0f ms, index complete "
                "%.0f ms (%.0f files/s a peer); registrations %llu; orders: replicate %llu, delete %llu, other %llu\n",
                r.round, options_.peers, files_.size(), r.joined_ms, r.sent_ms, r.complete_ms, rate,
                static_cast<unsigned long long>(r.registrations), static_cast<unsigned long long>(r.replicate),
                static_cast<unsigned long long>(r.del), static_cast<unsigned long long>(r.other));
    std::fflush(stdout);
  }

  const Options& options_;
  std::vector<p2p::Manifest> files_;
  std::vector<FakePeer> peers_;
  p2p::TrackerClient status_;
  std::vector<zmq::pollitem_t> items_;
  std::vector<RoundResult> results_;
  std::vector<Departure> departures_;  // per peer, in order
  std::size_t first_live_ = 0;    // peers leave in order: those before it have left
};

// `field` of each departure, as a JSON array: counts as integers, times with
// a decimal.
template <class Field>
void print_each(std::FILE* f, const std::vector<Departure>& departures, Field field) {
  std::fprintf(f, "[");
  for (std::size_t i = 0; i < departures.size(); ++i) {
    const auto value = field(departures[i]);
    if constexpr (std::is_integral_v<decltype(value)>)
      std::fprintf(f, "%s%llu", i == 0 ? "" : ", ", static_cast<unsigned long long>(value));
    else
      std::fprintf(f, "%s%.1f", i == 0 ? "" : ", ", value);
  }
  std::fprintf(f, "]");
}

bool write_json(const Options& options, const std::vector<RoundResult>& rounds,
                const std::vector<Departure>& departures) {
  std::FILE* f = std::fopen(options.json.c_str(), "w");
  if (f == nullptr) {
    std::perror(options.json.c_str());
    return false;
  }
  std::fprintf(f, "{\"peers\": %d, \"files\": %zu, \"rounds\": [", options.peers, options.files);
  for (std::size_t i = 0; i < rounds.size(); ++i) {
    const RoundResult& r = rounds[i];
    const double rate = r.complete_ms > 0 ? static_cast<double>(options.files) * 1000.0 / r.complete_ms : 0;
    std::fprintf(f,
                 "%s{\"round\": %d, \"joined_ms\": %.1f, \"sent_ms\": %.1f, \"complete_ms\": %.1f, "
                 "\"files_per_s\": %.1f, \"registrations\": %llu, \"replicate\": %llu, \"delete\": %llu, "
                 "\"other\": %llu}",
                 i == 0 ? "" : ", ", r.round, r.joined_ms, r.sent_ms, r.complete_ms, rate,
                 static_cast<unsigned long long>(r.registrations), static_cast<unsigned long long>(r.replicate),
                 static_cast<unsigned long long>(r.del), static_cast<unsigned long long>(r.other));
  }
  std::fprintf(f, "], \"leave_ms\": ");
  print_each(f, departures, [](const Departure& d) { return d.gone_ms; });
  std::fprintf(f, ", \"departure_done_ms\": ");
  print_each(f, departures, [](const Departure& d) { return d.done_ms; });
  std::fprintf(f, ", \"answered_while_departing\": ");
  print_each(f, departures, [](const Departure& d) { return d.answered_while_departing; });
  std::fprintf(f, ", \"slowest_status_ms\": ");
  print_each(f, departures, [](const Departure& d) { return d.slowest_status_ms; });
  std::fprintf(f, "}\n");
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Fake peers announcing many made-up files to a tracker; times the index and counts orders"};
  app.add_option("--tracker", options.tracker, "tracker endpoint")->envname("P2P_TRACKER")->capture_default_str();
  app.add_option("--peers", options.peers, "fake peers, each holding every file (k = peers)")
      ->check(CLI::Range(1, static_cast<int>(p2p::limits::kMaxReplicas)))
      ->capture_default_str();
  app.add_option("--files", options.files, "files each peer announces")->check(CLI::Range(1, 50'000'000))->capture_default_str();
  app.add_option("--rounds", options.rounds, "announcements to time (a script restarts the tracker between them)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", options.heartbeat_ms, "the links' heartbeat (the tracker's)")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  app.add_option("--liveness", options.liveness, "tracker silence of liveness x heartbeat: the links rejoin")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--round-timeout-s", options.round_timeout_s, "give up on a round after this long")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--linger-ms", options.linger_ms, "stay after the last round, counting orders, before leaving")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  app.add_option("--stay", options.stay, "the last N peers do not leave (fewer than --peers)")
      ->check(CLI::Range(0, static_cast<int>(p2p::limits::kMaxReplicas) - 1))
      ->capture_default_str();
  app.add_option("--after-leave-ms", options.after_leave_ms,
                 "after the departures, time STATUS this long with the staying peers on")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  app.add_option("--json", options.json, "write the rounds' figures to FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; a bad flag 2, as the header says
  }
  if (options.stay >= options.peers) {
    std::fprintf(stderr, "announce: --stay %d leaves no peer to depart (--peers %d)\n", options.stay, options.peers);
    return 2;
  }

  try {
    zmq::context_t ctx(1);
    bool clean = false;
    std::vector<RoundResult> rounds;
    std::vector<Departure> departures;
    {
      Announcer announcer(ctx, options);
      clean = announcer.run();
      rounds = announcer.results();
      departures = announcer.departures();
    }
    if (!options.json.empty() && !write_json(options, rounds, departures)) return 1;
    return clean && static_cast<int>(rounds.size()) == options.rounds ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "announce: %s\n", e.what());
    return 1;
  }
}
