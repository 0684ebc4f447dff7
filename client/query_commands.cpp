#include "client/query_commands.h"
#include "client/json_print.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/exit_codes.h"
#include "client/progress_bar.h"
#include "client/session_flags.h"
#include "client/tracker_retry.h"
#include "common/file_name.h"
#include "common/tracker_client.h"

namespace p2p::client {

namespace {

using Row = std::vector<std::string>;

// Left-aligned columns, two spaces apart, the last one unpadded.
void print_table(const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const Row& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto print_row = [&](const Row& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print_row(header);
  for (const Row& row : rows) print_row(row);
}


nlohmann::json to_json(const proto::FileSummary& f) {
  return {{"file_id", f.file_id.hex()}, {"name", f.name},         {"size", f.size},
          {"chunks", f.chunk_count},    {"replicas", f.replicas}, {"holders", f.holders}};
}

nlohmann::json to_json(const proto::HolderInfo& h) { return {{"peer_id", h.peer_id}, {"endpoint", h.endpoint}}; }

void print_files(const proto::ListReply& reply, bool json) {
  if (json) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : reply.files) files.push_back(to_json(f));
    print_json(files);
    return;
  }
  std::vector<Row> rows;
  for (const auto& f : reply.files)
    rows.push_back({f.name, human_bytes(f.size), std::to_string(f.holders) + "/" + std::to_string(f.replicas),
                    f.file_id.hex()});
  print_table({"NAME", "SIZE", "HOLDERS", "FILE_ID"}, rows);
}

// Why the tracker's index may still lack files that exist, for people.
// REQUIRES: !index.complete().
std::string describe(const proto::IndexState& index) {
  std::string why;
  if (index.announcing > 0)
    why = std::to_string(index.announcing) +
          (index.announcing == 1 ? " peer is still announcing its files" : " peers are still announcing their files") +
          " to the tracker";
  if (index.rejoin_left_ms > 0)
    why += (why.empty() ? "" : ", and ") + std::string("the tracker started recently: its peers may rejoin it for ") +
           std::to_string(index.rejoin_left_ms) + " ms more";
  return why;
}

// Asks `command` of the tracker until its index is complete (or while it is
// busy), within `retry` of the first such answer (protocol.md 5.4). Returns
// the last answer's status; on OK, `reply` is the last answer, its `index`
// possibly incomplete.
template <class Body, class Reply>
Status ask_until_indexed(TrackerClient& tracker, proto::Command command, const Body& body, Reply* reply,
                         std::chrono::milliseconds retry, bool quiet, const std::string& what) {
  return ask_again(tracker, {retry, quiet, what}, [&](std::optional<NotFinal>* not_final) {
    Status s = tracker.call(command, body, reply);
    if (s.code() == ErrorCode::kAnnouncing) {
      *not_final = NotFinal{s.message()};
    } else if (s.ok() && !reply->index.complete()) {
      *not_final = NotFinal{describe(reply->index)};
      // No peer announcing: only the end of the window can complete the index.
      if (reply->index.announcing == 0)
        (*not_final)->not_before = std::chrono::milliseconds(
            std::min(reply->index.rejoin_left_ms, static_cast<std::uint64_t>(kMaxFlagMillis)));
    }
    return s;
  });
}

// The exit code of an answer already printed: 6 ("try again") when the index
// it came from was incomplete, so a script does not take a name missing from
// it as a file that does not exist.
int exit_for_answer(const proto::IndexState& index, const std::string& what) {
  if (index.complete()) return static_cast<int>(Exit::kSuccess);
  return fail(Exit::kUnavailable, what + ": the answer may be incomplete: " + describe(index) + "; ask again");
}

// search and ls: one ListReply, printed as a table or JSON.
template <class Body>
int run_list_query(zmq::context_t& ctx, const GlobalOptions& global, proto::Command command, const Body& body,
                   bool json, std::chrono::milliseconds retry, const std::string& what) {
  TrackerClient tracker(ctx, global.tracker, global.timeout);
  proto::ListReply reply;
  Status s = ask_until_indexed(tracker, command, body, &reply, retry, global.quiet, what);
  if (!s.ok()) return fail(s, Origin::kTracker);
  print_files(reply, json);
  return exit_for_answer(reply.index, what);
}

}  // namespace

int run_search(zmq::context_t& ctx, const GlobalOptions& global, const std::string& pattern, bool json,
               std::chrono::milliseconds retry) {
  return run_list_query(ctx, global, proto::Command::kSearch, proto::SearchRequest{pattern}, json, retry,
                        "search '" + pattern + "'");
}

int run_ls(zmq::context_t& ctx, const GlobalOptions& global, bool json, std::chrono::milliseconds retry) {
  return run_list_query(ctx, global, proto::Command::kList, proto::Empty{}, json, retry, "ls");
}

int run_stat(zmq::context_t& ctx, const GlobalOptions& global, const std::string& query, bool json,
             std::chrono::milliseconds retry) {
  if (!Hash::from_hex(query)) {
    if (Status s = validate_name(query); !s.ok())
      return fail(Exit::kBadName, "invalid name '" + query + "': " + s.message());
  }
  TrackerClient tracker(ctx, global.tracker, global.timeout);
  proto::StatReply reply;
  const std::string what = "stat of '" + query + "'";
  Status s = ask_until_indexed(tracker, proto::Command::kStat, proto::QueryRequest{query}, &reply, retry, global.quiet,
                               what);
  if (!s.ok()) return fail(s, Origin::kTracker);
  const proto::FileSummary& f = reply.file;
  if (json) {
    nlohmann::json j = to_json(f);
    j["unavailable"] = f.holders == 0;
    j["holder_peers"] = nlohmann::json::array();
    for (const auto& h : reply.holders) j["holder_peers"].push_back(to_json(h));
    print_json(j);
    return exit_for_answer(reply.index, what);
  }
  std::printf("name      %s\nfile_id   %s\nsize      %s (%llu bytes)\nchunks    %llu\nreplicas  %u wanted, %u live%s\n",
              f.name.c_str(), f.file_id.hex().c_str(), human_bytes(f.size).c_str(),
              static_cast<unsigned long long>(f.size), static_cast<unsigned long long>(f.chunk_count), f.replicas,
              f.holders, f.holders == 0 ? " (unavailable: no live holder)" : "");
  for (const auto& h : reply.holders) std::printf("holder    %s  %s\n", h.peer_id.c_str(), h.endpoint.c_str());
  return exit_for_answer(reply.index, what);
}

int run_peers(zmq::context_t& ctx, const GlobalOptions& global, bool json, std::chrono::milliseconds retry) {
  TrackerClient tracker(ctx, global.tracker, global.timeout);
  proto::PeersReply reply;
  if (Status s = ask_while_busy(tracker, proto::Command::kPeers, proto::Empty{}, &reply, {retry, global.quiet, "peers"});
      !s.ok())
    return fail(s, Origin::kTracker);
  if (json) {
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& p : reply.peers)
      peers.push_back({{"peer_id", p.peer_id},
                       {"endpoint", p.endpoint},
                       {"capacity", p.capacity},
                       {"free_bytes", p.free_bytes},
                       {"files", p.files},
                       {"last_seen_ms", p.last_seen_ms},
                       {"services", p.services},
                       {"draining", p.draining},
                       {"copies", p.copies}});
    print_json(peers);
    return static_cast<int>(Exit::kSuccess);
  }
  std::vector<Row> rows;
  for (const auto& p : reply.peers) {
    std::string services;
    for (const auto& s : p.services) services += (services.empty() ? "" : ",") + s;
    rows.push_back({p.peer_id, p.endpoint, human_bytes(p.capacity), human_bytes(p.free_bytes), std::to_string(p.files),
                    std::to_string(p.copies), p.draining ? "draining" : "live", std::to_string(p.last_seen_ms) + " ms",
                    services});
  }
  print_table({"PEER_ID", "ENDPOINT", "CAPACITY", "FREE", "FILES", "COPIES", "STATE", "LAST_SEEN", "SERVICES"}, rows);
  return static_cast<int>(Exit::kSuccess);
}

int run_status(zmq::context_t& ctx, const GlobalOptions& global, bool json, std::chrono::milliseconds retry) {
  TrackerClient tracker(ctx, global.tracker, global.timeout);
  proto::StatusReply r;
  if (Status s = ask_while_busy(tracker, proto::Command::kStatus, proto::Empty{}, &r, {retry, global.quiet, "status"});
      !s.ok())
    return fail(s, Origin::kTracker);
  if (json) {
    print_json({{"peers", r.peers},
                {"files", r.files},
                {"bytes", r.bytes},
                {"stored_bytes", r.stored_bytes},
                {"capacity", r.capacity},
                {"free_bytes", r.free_bytes},
                {"under_replicated", r.under_replicated},
                {"unavailable", r.unavailable},
                {"copies", r.copies},
                {"draining", r.draining},
                {"index_complete", r.index.complete()},
                {"announcing", r.index.announcing},
                {"rejoin_left_ms", r.index.rejoin_left_ms},
                {"departed_holdings", r.index.departed_holdings}});
    return static_cast<int>(Exit::kSuccess);
  }
  std::printf("peers             %u\nfiles             %u\nbytes             %s\nstored            %s\n"
              "capacity          %s\nfree              %s\nunder_replicated  %u\nunavailable       %u\n"
              "copies            %u\ndraining          %u\nindex             %s\n",
              r.peers, r.files, human_bytes(r.bytes).c_str(), human_bytes(r.stored_bytes).c_str(),
              human_bytes(r.capacity).c_str(), human_bytes(r.free_bytes).c_str(), r.under_replicated, r.unavailable,
              r.copies, r.draining,
              r.index.complete() ? "complete"
                                 : ("incomplete: " + describe(r.index) + " (files and counts may be missing)").c_str());
  if (r.index.departed_holdings > 0)
    std::printf("departed          %llu files still list a peer that departed (the counts above include them)\n",
                static_cast<unsigned long long>(r.index.departed_holdings));
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
