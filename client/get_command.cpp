#include "client/get_command.h"

#include <cstdio>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "client/exit_codes.h"
#include "client/output_file.h"
#include "client/progress_bar.h"
#include "client/retry_policy.h"
#include "client/session.h"
#include "common/file_name.h"

namespace p2p::client {

namespace {

std::string output_path(const GetOptions& options, const std::string& name) {
  if (options.output.empty()) return name;
  std::error_code ec;
  if (std::filesystem::is_directory(options.output, ec)) return (std::filesystem::path(options.output) / name).string();
  return options.output;
}

// What the attempts of one get found, kept across them.
struct Fetched {
  std::optional<proto::LocateReply> located;  // the last answer
  std::string path;
  std::uint64_t fetched = 0;          // bytes fetched, all attempts
  std::optional<std::uint64_t> reused;  // bytes the first attempt found verified in OUT.part
};

// One attempt: LOCATE `query`, then fetch the chunks OUT.part lacks (the
// ones an earlier attempt or get verified are kept: OutputFile::open) and
// finish OUT. False on failure, with `failure` set, and `again` when asking
// the tracker again may mend it: every holder of the answer failed or lacked
// a chunk; or, once an earlier answer named holders (`retrying`), the tracker
// knows none live right now: they are dying or restarting, and a restarted
// holder is listed again as soon as it has announced its files.
bool get_once(Session& session, const GetOptions& options, const std::string& query, bool quiet, bool retrying,
              Fetched& got, Failure* failure, bool* again) {
  *again = false;
  std::optional<proto::LocateReply> located = session.locate(query, failure);
  if (!located) {
    *again = retrying && failure->status.code() == ErrorCode::kUnavailable;
    return false;
  }
  got.located = std::move(located);
  const Manifest& manifest = got.located->manifest;
  if (got.located->holders.empty()) {
    *failure = {{ErrorCode::kUnavailable, "'" + manifest.name + "' has no live holder"}, Origin::kLocal};
    return false;
  }

  // Before any chunk is fetched: an output we may not write fails now.
  got.path = output_path(options, manifest.name);
  Result<std::unique_ptr<OutputFile>> opened = OutputFile::open(got.path, manifest, options.force);
  if (!opened.ok()) {
    *failure = {opened.status(), Origin::kOutput};
    return false;
  }
  OutputFile& out = *opened.value();
  if (!got.reused) got.reused = out.reused_bytes();

  ProgressBar bar("get " + manifest.name, manifest.size, progress_enabled(quiet));
  bar.add(out.reused_bytes());
  Status s = session.fetch(manifest, out.missing(), got.located->holders, out, [&](std::uint64_t bytes) {
    got.fetched += bytes;
    bar.add(bytes);
  });
  if (!s.ok()) {
    *again = s.code() == ErrorCode::kUnavailable;
    // Only verified chunks are in the .part file: the next get resumes from it.
    *failure = {{s.code(), s.message() + "; verified chunks kept in " + out.part_path()}, Origin::kOutput};
    return false;
  }
  if (Status f = out.finish(); !f.ok()) {
    *failure = {f, Origin::kOutput};
    return false;
  }
  bar.finish();
  return true;
}

}  // namespace

int run_get(zmq::context_t& ctx, const GlobalOptions& global, const GetOptions& options) {
  if (!Hash::from_hex(options.query)) {
    if (Status s = validate_name(options.query); !s.ok())
      return fail(Exit::kBadName, "invalid name '" + options.query + "': " + s.message());
  }

  Session session(ctx, session_options(global));
  RetryPolicy policy;
  policy.budget = options.retry;
  std::uint64_t retries = 0;
  Attempts attempts(policy, retries);
  std::string query = options.query;
  Fetched got;
  Failure failure;
  bool done = false;
  while (attempts.next()) {
    if (attempts.made() > 1 && !global.quiet)
      std::fprintf(stderr, "p2p: warning: get of '%s' failed (%s); asking the tracker again\n", options.query.c_str(),
                   failure.status.message().c_str());
    bool again = false;
    done = get_once(session, options, query, global.quiet, attempts.made() > 1, got, &failure, &again);
    if (done || !again) break;
    // The same content as the first answer, even if the name is rebound meanwhile.
    query = got.located->file_id.hex();
  }
  if (!done) return fail(failure.status, failure.origin);

  const proto::LocateReply& located = *got.located;
  const Manifest& manifest = located.manifest;
  if (options.json) {
    nlohmann::json j{{"file_id", located.file_id.hex()}, {"name", manifest.name}, {"path", got.path},
                     {"size", manifest.size}, {"fetched_bytes", got.fetched}, {"reused_bytes", got.reused.value_or(0)}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("wrote %s (%s, file id %s)\n", got.path.c_str(), human_bytes(manifest.size).c_str(),
                located.file_id.hex().c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
