// Broker: the tracker's single-threaded ROUTER loop, the hub of the control
// plane (docs/design-brief.md "Control plane", docs/protocol.md 5.1-5.5).
//
// One ROUTER socket serves both sides, Majordomo style:
// - peer services (READY, HEARTBEAT, DISCONNECT, ANNOUNCE, REPLICATED,
//   REMOVED, DRAIN): the broker registers them, heartbeats every registered
//   service each heartbeat interval, expires silent ones, and answers worker
//   commands from unknown connections with DISCONNECT so they re-register;
// - clients (PLACE, PUBLISH, LOCATE, SEARCH, LIST, STAT, PEERS, STATUS,
//   LEAVE): exactly one reply each, OK + reply struct or ERROR{code, message}.
// - replication (docs/replication.md): every heartbeat tick the broker runs
//   the ReplicationPlanner and sends its orders (REPLICATE to a target's
//   replication service, DELETE to a holder's storage service) and RELEASE
//   to draining peers whose files are safe elsewhere. CopyTracker keeps the
//   orders in flight until REPLICATED / REMOVED or their timeout.
//
// Sources: broker.cpp (loop, timers, dispatch), broker_services.cpp (peer
// services and the orders sent to them), broker_requests.cpp (client requests).
// Every send is ROUTER_MANDATORY + dontwait: a slow or vanished client never
// blocks the loop; a dropped reply is logged.
//
// Usage:
//   zmq::context_t ctx;
//   Broker broker(ctx, options);
//   Result<std::string> ep = broker.bind();     // e.g. "tcp://127.0.0.1:40123"
//   std::thread t([&] { broker.run(); });
//   ...
//   broker.stop();                              // from any thread
//   t.join();
//
// Stopping: stop() sets an atomic flag that run() checks on every poll tick;
// the poll timeout never exceeds kStopCheckInterval, so run() returns within
// about that long. (A flag rather than an inproc control socket: stop() can
// then be called from any thread, including a signal-waiting one, without
// that thread owning a socket.)
//
// Thread affinity: bind() creates the socket in the calling thread; run()
// may then be called once, on another thread (starting a thread is a full
// memory barrier, which is all ZeroMQ asks when a socket changes threads).
// From then on only stop() may be called from other threads. run() closes the
// socket before returning. The context must outlive the broker.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/huge_page_heap.h"
#include "common/status.h"
#include "services/tracker/copy_tracker.h"
#include "services/tracker/file_index.h"
#include "services/tracker/peer_registry.h"
#include "services/tracker/replication_planner.h"
#include "services/tracker/tracker_options.h"
#include "services/tracker/unconfirmed_holdings.h"

namespace p2p::tracker {

// Longest poll: bounds how late run() notices stop().
inline constexpr std::chrono::milliseconds kStopCheckInterval{100};
// Messages handled per poll wake-up before timers run again, so a flood of
// requests cannot starve heartbeats and expiry. A wake-up also ends after
// heartbeat / kLongWorkShare of work: 1,000 ANNOUNCEs of 256 files take ~0.8 s,
// and peers that hear no heartbeat for liveness x heartbeat reconnect.
inline constexpr int kMaxBatch = 1000;
// A stretch of heartbeat / kLongWorkShare or longer in which the broker thread
// read nothing is excused as silence of every service (PeerRegistry::excuse):
// one long piece of work (a request, a replication tick), or the thread or the
// whole process not running (descheduled, SIGSTOP, a paused VM: a poll that
// returns that much after its timeout). The services' heartbeats waited in the
// socket, or in the kernel's buffers, meanwhile. Shorter stretches are not, or
// a flood of short work would stop expiry; a heartbeat that waits behind many
// short pieces is not silence either (silence_known_until).
inline constexpr int kLongWorkShare = 4;
// How many expiry windows the judging of silence may lag behind the clock
// while the socket never empties: a flood must not keep the dead alive, and
// ROUTER's fair queueing reads every connection once a round, so a live
// service's heartbeat waits one round (2 windows: a round of slow requests
// from many clients may outlast one).
inline constexpr int kMaxUnreadWindows = 2;
// Units of a departure's work between two reads of the socket
// (FileIndex::remove_departed: a file id found, or a file taken off): steps
// of 5-30 ms measured, so requests and heartbeats wait that long behind a
// departure, not the 2.3-3.3 s a peer of 1,000,000 files took at once.
inline constexpr std::size_t kDepartureStep = 8192;
// SEARCH and LIST answer at most this many files: bounds one reply's size.
inline constexpr std::size_t kMaxSearchResults = 10000;

class Broker {
 public:
  Broker(zmq::context_t& ctx, TrackerOptions options);
  ~Broker() = default;
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Creates the ROUTER and binds it to options.endpoint (":0" = any port).
  // Returns the bound endpoint, or kIo naming the endpoint and the reason.
  Result<std::string> bind();

  // Serves until stop(). OK after a requested stop; an error only when the
  // socket itself fails (e.g. the context was terminated). Never throws.
  // REQUIRES: bind() succeeded.
  Status run();

  // Asks run() to return. Thread-safe, async-signal-safe.
  void stop() noexcept { stop_.store(true); }

  // Replication ticks since safe mode ended (one a heartbeat, and one after
  // copies are done), and how many of them ran the planner over the index (the
  // others found nothing changed since a settled plan). Thread-safe; for
  // tests and diagnostics.
  std::uint64_t replication_ticks() const { return ticks_.load(); }
  std::uint64_t replication_plans() const { return plans_.load(); }
  // Stretches without reading (long work, or not running) long enough to be
  // excused as every service's silence (kLongWorkShare). Thread-safe; for tests.
  std::uint64_t excused_stretches() const { return excused_stretches_.load(); }
  // Waits for announcements in which the short files stopped being kept in
  // order (TrackerOptions::unsorted_announcement). Thread-safe; for tests.
  std::uint64_t short_file_pauses() const { return short_file_pauses_.load(); }

 private:
  void run_timers(TimePoint now);
  // Reads up to kMaxBatch messages, and stops sooner after one long piece of
  // work or a quarter heartbeat of short ones, so run_timers sends the
  // heartbeats due; when it finds the socket empty, moves drained_at_ and
  // expires the services silent until then.
  void read_messages();
  // How far every service's silence is known: up to drained_at_, since a
  // message that came later may still wait unread behind this thread (it was
  // descheduled, or busy with many short pieces of work). Never more than
  // kMaxUnreadWindows behind `now`.
  TimePoint silence_known_until(TimePoint now) const;
  // Marks the thread's progress at `now` (a fresh Clock::now()). The stretch
  // since the last mark, less a wait the thread chose (a poll until
  // `waited_until`), is time it read nothing; when long enough to hide
  // heartbeats it is not counted as anyone's silence (kLongWorkShare). True
  // when it was. Every clock reading that expiry is judged by is marked
  // first, so a stall is excused before it can expire anyone.
  bool mark_progress(TimePoint now, TimePoint waited_until = TimePoint::min());
  void handle(codec::Envelope& env, const std::string& routing, TimePoint now);
  void handle_departures(const std::vector<Departure>& gone, const char* how, TimePoint now);
  // The peer's holdings are gone (death, leave, restart): losses in the
  // index, taken in steps (take_off_departed), and its orders in flight will
  // never be answered.
  void forget_holdings(const std::string& peer_id, TimePoint now, const std::string& why);
  // One step of the departures in progress (kDepartureStep files); logs when
  // the last is done.
  void take_off_departed();
  // The peer's storage reconnected from the same process: its holdings stay,
  // unconfirmed until its announcement completes; its orders in flight went
  // to the old connection and will never be answered.
  void keep_holdings(const std::string& peer_id);
  // Its announcement is complete: it no longer holds what it did not confirm.
  void drop_unconfirmed(const std::string& peer_id);
  // Whether the index may still lack files that exist (protocol.md 5.2): the
  // rest of the rejoin window after the start, and the peers announcing.
  proto::IndexState index_state(TimePoint now) const;
  // The answer to a LOCATE or STAT of `query`, which the index does not know:
  // `announcing` while the index may still lack files that exist (within
  // options_.rejoin() of the start, or while a peer announces), else `not_found`.
  Status unknown_file(const std::string& query, TimePoint now) const;

  // Replication, once per heartbeat tick and once after copies are done (as soon
  // as the planning share allows): expire orders (a delete that expired
  // drops its holder from the index), plan, send, release.
  // The plan is skipped while the last one was settled and nothing it reads
  // has changed since (PlanInputs).
  void replicate(TimePoint now);
  // Until safe mode is over: ends it once the index is complete, and keeps it
  // past the repair grace for the rest of the rejoin window and while the
  // peers' announcements keep coming (announcement_in_progress), so a long
  // re-announcement is not taken for lost replicas (docs/replication.md
  // "Tracker restart").
  void settle_safe_mode(TimePoint now);
  // A storage service is announcing what it holds (between its READY and its
  // complete batch) and its last READY or batch came within one repair grace:
  // its files are not lost, only not announced yet, so the tracker plans no
  // copy, trim or release meanwhile, at its start (safe mode) or later (a peer
  // restarted with many files). A peer whose batches stop holds it up one
  // grace at most.
  bool announcement_in_progress(TimePoint now) const;
  // While replication waits for announcements: stops keeping the short files
  // in order once the wait has seen a big announcement (unsorted_announcement).
  void pause_short_files_if_big();
  // Sorts the short files again (FileIndex::keep_short_files) when safe mode
  // ends or replication resumes; returns the milliseconds it took, for the log.
  long long sort_short_files();
  void send_copy(const CopyOrder& order, TimePoint now);
  void send_delete(const DeleteOrder& order, TimePoint now);
  void release_drained(TimePoint now);
  // Sends a command with no reply to one service of a live peer.
  Status send_to_service(const std::string& peer_id, const char* service, proto::Command command,
                         zmq::message_t body);

  // Worker commands: no reply, except DISCONNECT or ERROR when refused.
  void on_ready(const codec::Envelope& env, const std::string& routing, TimePoint now);
  void on_heartbeat(const codec::Envelope& env, const ServiceKey& service);
  void on_disconnect(const std::string& routing);
  void on_announce(const codec::Envelope& env, const ServiceKey& service);
  void on_replicated(const codec::Envelope& env, const ServiceKey& service);
  void on_removed(const codec::Envelope& env, const ServiceKey& service);
  void on_drain(const codec::Envelope& env, const ServiceKey& service);

  // Client requests: each returns the reply body or the error to send.
  Result<proto::PlaceReply> place(const proto::PlaceRequest& req, TimePoint now);
  Result<proto::PublishReply> publish(const proto::PublishRequest& req, TimePoint now);
  // `routing`: the asking connection, whose own order of holders LOCATE gives.
  Result<proto::LocateReply> locate(const proto::QueryRequest& req, const std::string& routing, TimePoint now);
  Result<proto::ListReply> search(const proto::SearchRequest& req, TimePoint now);
  Result<proto::ListReply> list(const proto::Empty& req, TimePoint now);
  Result<proto::StatReply> stat(const proto::QueryRequest& req, TimePoint now);
  Result<proto::PeersReply> peers(const proto::Empty& req, TimePoint now);
  Result<proto::StatusReply> status(const proto::Empty& req, TimePoint now);
  Result<proto::Empty> leave(const proto::QueryRequest& req, TimePoint now);

  // Decodes the request body, runs `handler` and sends its one reply.
  template <class Request, class Reply>
  void serve(const codec::Envelope& env, Result<Reply> (Broker::*handler)(const Request&, TimePoint), TimePoint now);
  // The same for a handler called as `handler(request)` (one that needs more than `now`).
  template <class Request, class Handler>
  void serve_with(const codec::Envelope& env, Handler handler);

  // Logs the refusal and answers ERROR where a reply is possible.
  void reject(const codec::Envelope& env, const Status& why);
  void send_disconnect(const std::string& routing);
  void log_dropped(const Status& send_status, const codec::Envelope& env);

  proto::FileSummary summary(const FileRecord& file) const;
  std::vector<proto::HolderInfo> holder_infos(const FileRecord& file) const;
  // LOCATE's holders: the live ones, as holder_infos, in the asking
  // connection's own order (rendezvous hashing of its routing id and each
  // peer id), draining holders last (docs/protocol.md 5.2).
  std::vector<proto::HolderInfo> holders_for_get(const FileRecord& file, const std::string& routing) const;

  // What a replication plan reads, by version: equal inputs, equal plan.
  struct PlanInputs {
    std::uint64_t peers = 0;
    std::uint64_t files = 0;
    std::uint64_t orders = 0;
    bool operator==(const PlanInputs&) const = default;
  };
  PlanInputs plan_inputs() const { return {registry_.version(), index_.version(), orders_.version()}; }

  // STATUS's count of under-replicated files, from the index's counts by
  // holder number; a look at the files of draining peers, no pass over all.
  std::uint32_t under_replicated() const;

  zmq::context_t& ctx_;
  const TrackerOptions options_;
  std::optional<zmq::socket_t> socket_;  // from bind() until run() returns
  std::atomic<bool> stop_{false};
  PeerRegistry registry_;
  FileIndex index_;
  CopyTracker orders_;
  TimePoint started_;              // when run() began
  ReplicationPolicy policy_;       // safe_until is set when run() begins
  std::set<std::string> released_;  // draining peers already sent RELEASE (logged once)
  UnconfirmedHoldings unconfirmed_;  // of reconnected peers, until their announcement completes
  // Peers whose storage sent READY and not yet the complete batch of the
  // announcement after it: the index may lack files only they hold.
  std::set<std::string> announcing_;
  bool safe_mode_over_ = false;     // logged once; safe mode never starts again
  TimePoint last_announcement_{};   // the latest READY or ANNOUNCE of a storage service still announcing
  bool waiting_for_announcement_ = false;  // replication waits for one (logged when it starts and ends)
  std::uint64_t announced_in_wait_ = 0;    // files announced since the wait began (or since safe mode ended)
  // Since when departures have been in progress without a break, and how many
  // files they took off (logged when done).
  TimePoint departures_since_{};
  std::uint64_t departed_files_ = 0;
  TimePoint next_heartbeat_{};
  TimePoint last_progress_{};  // mark_progress's last mark
  // When a read last found the socket empty: every message sent before then
  // has been read and has touched its sender.
  TimePoint drained_at_{};
  // The inputs of the last plan, if it was settled: a tick with the same
  // inputs would plan nothing again, so it skips the plan (which looks at
  // every short file in some cases, replication_planner.h).
  std::optional<PlanInputs> settled_at_;
  TimePoint next_plan_{};  // no plan before this (next_plan_at: a cap on planning's share)
  // Copies done when the last tick ended. A copy done since (REPLICATED or the
  // target's announcement) freed a slot, so the next tick comes at next_plan_,
  // not a heartbeat later. A failed copy waits for the heartbeat: its target
  // may be the only one, and trying it again at once could spin.
  std::uint64_t copies_done_at_tick_ = 0;
  bool copy_done_since_tick() const { return orders_.copies_done() != copies_done_at_tick_; }
  std::atomic<std::uint64_t> ticks_{0};  // replication ticks after safe mode
  std::atomic<std::uint64_t> plans_{0};  // of those, the ones that planned
  std::atomic<std::uint64_t> excused_stretches_{0};
  std::atomic<std::uint64_t> short_file_pauses_{0};
  // Marks the heap this thread grows for huge pages before each message it
  // handles (huge_page_heap.h; main() prepares the heap).
  HugePageHeap heap_;
};

}  // namespace p2p::tracker
