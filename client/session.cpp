#include "client/session.h"

#include <algorithm>
#include <unordered_set>

#include "client/put_pipeline.h"
#include "common/limits.h"

namespace p2p::client {

namespace {

// Every field of a LOCATE reply the client relies on, checked.
Status check_locate(const proto::LocateReply& reply, const std::string& query) {
  if (Status s = reply.manifest.validate(); !s.ok()) return {ErrorCode::kBadRequest, "invalid manifest: " + s.message()};
  if (reply.manifest.file_id() != reply.file_id)
    return {ErrorCode::kBadRequest, "the manifest does not match its file id"};
  // A 64-hex query is a file id, but could also be a file's name.
  const std::optional<Hash> id = Hash::from_hex(query);
  const bool by_id = id && *id == reply.file_id;
  if (!by_id && reply.manifest.name != query) return {ErrorCode::kBadRequest, "the reply is about another file"};
  return Status::Ok();
}

// One holder per endpoint: two would share a pooled connection and take
// each other's replies for strangers.
std::vector<proto::HolderInfo> distinct(const std::vector<proto::HolderInfo>& holders) {
  std::vector<proto::HolderInfo> out;
  std::unordered_set<std::string> seen;
  for (const auto& h : holders)
    if (seen.insert(h.endpoint).second) out.push_back(h);
  return out;
}

std::vector<std::uint64_t> all_chunks(const Manifest& manifest) {
  std::vector<std::uint64_t> v(manifest.chunk_count());
  for (std::uint64_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

// The manifest's chunk hashes, read from `source` from its start.
Status hash_all(ChunkSource& source, Manifest* manifest) {
  manifest->chunks.clear();
  source.rewind();
  while (true) {
    Result<std::optional<Chunk>> next = source.next();
    if (!next.ok()) return next.status();
    if (!next.value()) return Status::Ok();
    manifest->chunks.push_back(next.value()->hash);
  }
}

void set(Failure* failure, Status status, Origin origin, const std::string& peer_id = "") {
  if (failure) *failure = Failure{std::move(status), origin, peer_id};
}

// A failed request to `tracker`: the tracker's failure, busy or not.
void set_tracker(Failure* failure, Status status, const TrackerClient& tracker) {
  if (failure) *failure = Failure{std::move(status), Origin::kTracker, "", tracker.busy()};
}

}  // namespace

void avoid_blamed_peer(PutRequest& request, const Failure& failure) {
  std::vector<std::string>& avoid = request.avoid;
  if (failure.peer_id.empty() || avoid.size() >= limits::kMaxAvoidedPeers) return;
  if (std::find(avoid.begin(), avoid.end(), failure.peer_id) == avoid.end()) avoid.push_back(failure.peer_id);
}

SessionOptions session_options(const GlobalOptions& global) {
  SessionOptions o;
  o.tracker = global.tracker;
  o.timeout = global.timeout;
  o.chunk_timeout = global.chunk_timeout;
  o.hedge_after = global.hedge_after;
  return o;
}

Session::Session(zmq::context_t& ctx, SessionOptions options)
    : ctx_(ctx), options_(std::move(options)), tracker_(ctx, options_.tracker, options_.timeout), pool_(ctx) {}

std::optional<proto::LocateReply> Session::locate(const std::string& query, Failure* failure) {
  proto::LocateReply located;
  if (Status s = tracker_.call(proto::Command::kLocate, proto::QueryRequest{query}, &located); !s.ok()) {
    set_tracker(failure, s, tracker_);
    return std::nullopt;
  }
  if (Status s = check_locate(located, query); !s.ok()) {
    set(failure, {ErrorCode::kBadRequest, "bad LOCATE reply from the tracker: " + s.message()}, Origin::kLocal);
    return std::nullopt;
  }
  return located;
}

Result<proto::ListReply> Session::search(const std::string& pattern) {
  proto::ListReply reply;
  if (Status s = tracker_.call(proto::Command::kSearch, proto::SearchRequest{pattern}, &reply); !s.ok()) return s;
  return reply;
}

Status Session::fetch(const Manifest& manifest, const std::vector<std::uint64_t>& indexes,
                      const std::vector<proto::HolderInfo>& holders, ChunkSink& sink, const FetchProgress& progress) {
  FetchOptions fetch;
  fetch.window = options_.window;
  fetch.chunk_timeout = options_.chunk_timeout;
  fetch.hedge_after = options_.hedge_after;
  fetch.connections = &pool_;
  return fetch_chunks(ctx_, manifest, indexes, distinct(holders), fetch, sink, progress);
}

std::optional<GetResult> Session::get(const std::string& query, ChunkSink& sink, Failure* failure) {
  std::optional<proto::LocateReply> located = locate(query, failure);
  if (!located) return std::nullopt;
  GetResult result{located->file_id, std::move(located->manifest), 0};
  if (located->holders.empty()) {
    set(failure, {ErrorCode::kUnavailable, "'" + result.manifest.name + "' has no live holder"}, Origin::kLocal);
    return std::nullopt;
  }
  Status s = fetch(result.manifest, all_chunks(result.manifest), located->holders, sink,
                   [&](std::uint64_t bytes) { result.fetched_bytes += bytes; });
  if (!s.ok()) {
    set(failure, s, Origin::kOutput);
    return std::nullopt;
  }
  return result;
}

std::optional<PutResult> Session::put(const PutRequest& request, ChunkSource& source, Failure* failure,
                                      const FetchProgress& progress) {
  proto::PlaceReply place;
  if (Status s = tracker_.call(proto::Command::kPlace,
                               proto::PlaceRequest{request.name, source.size(), request.replicas, request.avoid},
                               &place);
      !s.ok()) {
    set_tracker(failure, s, tracker_);
    return std::nullopt;
  }
  PutResult result;
  Manifest& manifest = result.manifest;
  manifest.name = request.name;
  manifest.size = source.size();
  manifest.chunk_size = source.chunk_size();
  result.wanted = place.replicas != 0 ? place.replicas : request.replicas;
  manifest.replicas = std::min(result.wanted, limits::kMaxReplicas);

  if (place.exists && !request.force) {
    // Same content under the same name is a success with nothing to upload.
    if (Status s = hash_all(source, &manifest); !s.ok()) {
      set(failure, s, Origin::kInput);
      return std::nullopt;
    }
    result.file_id = manifest.file_id();
    if (result.file_id == place.existing_file_id) {
      result.already_stored = true;
      return result;
    }
    set(failure,
        {ErrorCode::kNameExists, "the name '" + request.name + "' holds a different file (file id " +
                                     place.existing_file_id.hex() +
                                     ": other content, or the same cut in other chunks); use --force to replace it"},
        Origin::kLocal);
    return std::nullopt;
  }
  if (place.peers.empty()) {
    set(failure, {ErrorCode::kNoPeers, "the tracker has no live peers to store '" + request.name + "' on"},
        Origin::kLocal);
    return std::nullopt;
  }

  manifest.chunks.clear();
  source.rewind();
  PutPipeline pipeline(ctx_, place.peers, options_.chunk_timeout, &pool_);
  std::uint64_t shown = 0;
  while (true) {
    Result<std::optional<Chunk>> next = source.next();
    if (!next.ok()) {
      set(failure, next.status(), Origin::kInput);
      return std::nullopt;
    }
    if (!next.value()) break;
    manifest.chunks.push_back(next.value()->hash);
    if (Status s = pipeline.put(std::move(*next.value())); !s.ok()) {
      set(failure, s, Origin::kPeer, pipeline.failed_peer());
      return std::nullopt;
    }
    if (progress) progress(pipeline.acked_bytes() - shown);
    shown = pipeline.acked_bytes();
  }
  Result<proto::CommitReply> committed = pipeline.commit(manifest);
  if (!committed.ok()) {
    set(failure, committed.status(), Origin::kPeer, pipeline.failed_peer());
    return std::nullopt;
  }
  if (progress) progress(pipeline.acked_bytes() - shown);
  result.file_id = manifest.file_id();
  if (committed->file_id != result.file_id) {
    set(failure, {ErrorCode::kBadRequest, "the peers committed a different file id"}, Origin::kLocal);
    return std::nullopt;
  }
  if (committed->peer_ids.empty()) {
    set(failure, {ErrorCode::kBadRequest, "no peer reported the commit"}, Origin::kLocal);
    return std::nullopt;
  }
  proto::PublishReply published;
  if (Status s = tracker_.call(proto::Command::kPublish,
                               proto::PublishRequest{manifest, committed->peer_ids, request.force}, &published);
      !s.ok()) {
    // unavailable: every peer that committed it died since. Theirs, so a put
    // placed again on live peers mends it (worth_retrying).
    if (s.code() == ErrorCode::kUnavailable)
      set(failure, s, Origin::kPeer);
    else
      set_tracker(failure, s, tracker_);
    return std::nullopt;
  }
  if (published.file_id != result.file_id) {
    set(failure, {ErrorCode::kBadRequest, "the tracker published a different file id"}, Origin::kLocal);
    return std::nullopt;
  }
  result.holders = std::move(committed->peer_ids);
  return result;
}

}  // namespace p2p::client
