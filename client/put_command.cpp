#include "client/put_command.h"
#include "client/json_print.h"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "client/exit_codes.h"
#include "client/progress_bar.h"
#include "client/retry_policy.h"
#include "client/session.h"
#include "common/chunk_reader.h"
#include "common/file_name.h"

namespace p2p::client {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

int print_already_stored(const Manifest& manifest, bool json) {
  if (json) {
    nlohmann::json j{{"file_id", manifest.file_id().hex()}, {"name", manifest.name}, {"size", manifest.size},
                     {"chunks", manifest.chunk_count()}, {"already_stored", true}};
    print_json(j);
  } else {
    std::printf("already stored: '%s' has this content\nfile_id  %s\n", manifest.name.c_str(),
                manifest.file_id().hex().c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace

bool worth_retrying(const Failure& failure) {
  if (failure.tracker_busy) return true;  // PLACE or PUBLISH unanswered by a connected tracker
  if (failure.origin != Origin::kPeer) return false;
  switch (failure.status.code()) {
    case ErrorCode::kUnavailable:     // "peer is busy": its workers' queue or steps are full
    case ErrorCode::kShuttingDown:    // the peer is stopping
    case ErrorCode::kForwardFailed:   // a later peer of the pipeline failed
    case ErrorCode::kTimeout:         // a peer died or stalled; the tracker drops it within a window
    case ErrorCode::kMissingChunks:   // a peer restarted mid-put and lost its staged chunks
      return true;
    default:
      return false;
  }
}

Result<std::uint32_t> chunk_size_for(std::uint64_t size, std::uint32_t requested, bool given) {
  std::uint32_t chunk_size = requested;
  while (!given && chunk_count_for(size, chunk_size) > limits::kMaxChunksPerFile && chunk_size < limits::kMaxChunkSize)
    chunk_size *= 2;
  if (chunk_count_for(size, chunk_size) <= limits::kMaxChunksPerFile) return chunk_size;
  const std::uint64_t largest = limits::kMaxChunksPerFile * chunk_size;
  return Status{ErrorCode::kBadRequest, human_bytes(size) + " is more than " +
                                            std::to_string(limits::kMaxChunksPerFile) + " chunks of " +
                                            human_bytes(chunk_size) + " (at most " + human_bytes(largest) + ")" +
                                            (given && chunk_size < limits::kMaxChunkSize ? ": use a larger --chunk-size" : "")};
}

int run_put(zmq::context_t& ctx, const GlobalOptions& global, const PutOptions& options) {
  if (options.chunk_size < limits::kMinChunkSize || options.chunk_size > limits::kMaxChunkSize)
    return fail(Exit::kUsage, "--chunk-size must be between " + human_bytes(limits::kMinChunkSize) + " and " +
                                  human_bytes(limits::kMaxChunkSize));
  if (options.replicas > limits::kMaxReplicas)
    return fail(Exit::kUsage, "--replicas must be at most " + std::to_string(limits::kMaxReplicas));

  Result<ChunkReader> opened = ChunkReader::open(options.path, static_cast<std::uint32_t>(options.chunk_size));
  if (!opened.ok()) return fail(opened.status(), Origin::kInput);
  const Result<std::uint32_t> chunk_size =
      chunk_size_for(opened->size(), opened->chunk_size(), options.chunk_size_given);
  if (!chunk_size.ok()) return fail(Exit::kUsage, chunk_size.status().message());
  if (chunk_size.value() != opened->chunk_size()) {
    opened = ChunkReader::open(options.path, chunk_size.value());
    if (!opened.ok()) return fail(opened.status(), Origin::kInput);
  }
  ChunkReader& reader = opened.value();
  // After the open: a PATH that is a directory ("d/", ".") is an input error,
  // not the invalid name its last component would give.
  const std::string name =
      options.name ? *options.name : std::filesystem::path(options.path).filename().string();
  if (Status s = validate_name(name); !s.ok()) return fail(Exit::kBadName, "invalid name '" + name + "': " + s.message());

  Session session(ctx, session_options(global));
  RetryPolicy policy;
  policy.budget = options.retry;
  std::uint64_t retries = 0;
  Attempts attempts(policy, retries);
  std::optional<PutResult> put;
  Failure failure;
  PutRequest request{name, options.replicas, options.force, {}};
  while (attempts.next()) {
    if (attempts.made() > 1 && !global.quiet)
      std::fprintf(stderr, "p2p: warning: put of '%s' failed (%s); trying again%s\n", name.c_str(),
                   failure.status.to_string().c_str(),
                   failure.peer_id.empty() ? "" : (" without peer " + failure.peer_id).c_str());
    ProgressBar bar("put " + name, reader.size(), progress_enabled(global.quiet));
    // Each attempt reads the file from its start (Session::put rewinds it).
    put = session.put(request, reader, &failure, [&](std::uint64_t bytes) { bar.add(bytes); });
    bar.finish();
    if (put || !worth_retrying(failure)) break;
    avoid_blamed_peer(request, failure);
  }
  if (!put) return fail(failure.status, failure.origin);
  if (put->already_stored) return print_already_stored(put->manifest, options.json);

  const auto& holders = put->holders;
  if (holders.size() < put->wanted && !global.quiet)
    std::fprintf(stderr, "p2p: warning: '%s' is on %zu of %u wanted peers (not enough live peers with room)\n",
                 name.c_str(), holders.size(), put->wanted);
  if (options.json) {
    nlohmann::json j{{"file_id", put->file_id.hex()}, {"name", name},         {"size", put->manifest.size},
                     {"chunks", put->manifest.chunk_count()}, {"holders", holders}, {"replicas", put->wanted},
                     {"already_stored", false}};
    print_json(j);
  } else {
    std::printf("stored   %s (%s)\nfile_id  %s\nholders  %s\n", name.c_str(), human_bytes(put->manifest.size).c_str(),
                put->file_id.hex().c_str(), join(holders).c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
