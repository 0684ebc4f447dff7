#include "client/put_command.h"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "client/exit_codes.h"
#include "client/progress_bar.h"
#include "client/put_pipeline.h"
#include "common/chunk_reader.h"
#include "common/file_name.h"
#include "common/tracker_client.h"

namespace p2p::client {

namespace {

// The manifest of the whole file, read and hashed chunk by chunk.
Status hash_file(ChunkReader& reader, Manifest* manifest, bool show_progress) {
  ProgressBar bar("hashing", reader.size(), show_progress);
  reader.rewind();
  while (true) {
    Result<std::optional<Chunk>> next = reader.next();
    if (!next.ok()) return next.status();
    if (!next.value()) break;
    manifest->chunks.push_back(next.value()->hash);
    bar.add(next.value()->data.size());
  }
  return Status::Ok();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

int print_already_stored(const Manifest& manifest, bool json) {
  if (json) {
    nlohmann::json j{{"file_id", manifest.file_id().hex()}, {"name", manifest.name}, {"size", manifest.size},
                     {"chunks", manifest.chunk_count()}, {"already_stored", true}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("already stored: '%s' has this content\nfile_id  %s\n", manifest.name.c_str(),
                manifest.file_id().hex().c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace

int run_put(zmq::context_t& ctx, const GlobalOptions& global, const PutOptions& options) {
  const std::string name =
      options.name ? *options.name : std::filesystem::path(options.path).filename().string();
  if (Status s = validate_name(name); !s.ok()) return fail(Exit::kBadName, "invalid name '" + name + "': " + s.message());
  if (options.chunk_size < limits::kMinChunkSize || options.chunk_size > limits::kMaxChunkSize)
    return fail(Exit::kUsage, "--chunk-size must be between " + human_bytes(limits::kMinChunkSize) + " and " +
                                  human_bytes(limits::kMaxChunkSize));
  if (options.replicas > limits::kMaxReplicas)
    return fail(Exit::kUsage, "--replicas must be at most " + std::to_string(limits::kMaxReplicas));

  Result<ChunkReader> opened = ChunkReader::open(options.path, static_cast<std::uint32_t>(options.chunk_size));
  if (!opened.ok()) return fail(opened.status(), Origin::kInput);
  ChunkReader& reader = opened.value();
  const bool show_progress = progress_enabled(global.quiet);

  TrackerClient tracker(ctx, global.tracker, global.timeout);
  proto::PlaceReply place;
  if (Status s = tracker.call(proto::Command::kPlace, proto::PlaceRequest{name, reader.size(), options.replicas}, &place);
      !s.ok())
    return fail(s, Origin::kTracker);

  Manifest manifest;
  manifest.name = name;
  manifest.size = reader.size();
  manifest.chunk_size = reader.chunk_size();
  const std::uint32_t wanted = place.replicas != 0 ? place.replicas : options.replicas;
  manifest.replicas = std::min(wanted, limits::kMaxReplicas);

  if (place.exists && !options.force) {
    // Same content under the same name is a success with nothing to upload.
    if (Status s = hash_file(reader, &manifest, show_progress); !s.ok()) return fail(s, Origin::kInput);
    if (manifest.file_id() == place.existing_file_id) return print_already_stored(manifest, options.json);
    return fail(Exit::kNameExists, "the name '" + name + "' holds different content (file id " +
                                       place.existing_file_id.hex() + "); use --force to replace it");
  }
  if (place.peers.empty()) return fail(Exit::kNoPeers, "the tracker has no live peers to store '" + name + "' on");

  manifest.chunks.clear();
  reader.rewind();
  PutPipeline pipeline(ctx, place.peers, global.chunk_timeout);
  ProgressBar bar("put " + name, manifest.size, show_progress);
  std::uint64_t shown = 0;
  while (true) {
    Result<std::optional<Chunk>> next = reader.next();
    if (!next.ok()) return fail(next.status(), Origin::kInput);
    if (!next.value()) break;
    manifest.chunks.push_back(next.value()->hash);
    if (Status s = pipeline.put(std::move(*next.value())); !s.ok()) return fail(s, Origin::kPeer);
    bar.add(pipeline.acked_bytes() - shown);
    shown = pipeline.acked_bytes();
  }
  Result<proto::CommitReply> committed = pipeline.commit(manifest);
  if (!committed.ok()) return fail(committed.status(), Origin::kPeer);
  bar.finish();
  const Hash file_id = manifest.file_id();
  if (committed->file_id != file_id) return fail(Exit::kPeerError, "the peers committed a different file id");
  if (committed->peer_ids.empty()) return fail(Exit::kPeerError, "no peer reported the commit");

  proto::PublishReply published;
  if (Status s = tracker.call(proto::Command::kPublish,
                              proto::PublishRequest{manifest, committed->peer_ids, options.force}, &published);
      !s.ok())
    return fail(s, Origin::kTracker);
  if (published.file_id != file_id) return fail(Exit::kPeerError, "the tracker published a different file id");

  const auto& holders = committed->peer_ids;
  if (holders.size() < wanted)
    std::fprintf(stderr, "p2p: warning: '%s' is on %zu of %u wanted peers (not enough live peers with room)\n",
                 name.c_str(), holders.size(), wanted);
  if (options.json) {
    nlohmann::json j{{"file_id", file_id.hex()}, {"name", name},         {"size", manifest.size},
                     {"chunks", manifest.chunk_count()}, {"holders", holders}, {"replicas", wanted},
                     {"already_stored", false}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("stored   %s (%s)\nfile_id  %s\nholders  %s\n", name.c_str(), human_bytes(manifest.size).c_str(),
                file_id.hex().c_str(), join(holders).c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
