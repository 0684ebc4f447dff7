#include "client/get_command.h"
#include "client/json_print.h"

#include <cstdio>
#include <filesystem>
#include <memory>
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

// What the attempts of one get share: the content of the first answer and
// the output opened for it, so that a later attempt only asks for holders
// and fetches what the output still lacks (OutputFile::missing()).
// Member order: the bar is cleared before the output closes.
struct GetState {
  std::optional<proto::LocateReply> first;  // the file id and manifest being got
  std::string path;
  std::unique_ptr<OutputFile> out;  // opened by the first attempt that reached a holder
  std::unique_ptr<ProgressBar> bar;
  std::uint64_t fetched = 0;  // bytes fetched, all attempts
  std::uint64_t reused = 0;   // bytes found verified in OUT.part when it was opened
};

// Opens the output for state.first's manifest, before any chunk is fetched:
// an output we may not write fails now.
bool open_output(const GetOptions& options, bool quiet, GetState& state, Failure* failure) {
  const Manifest& manifest = state.first->manifest;
  state.path = output_path(options, manifest.name);
  Result<std::unique_ptr<OutputFile>> opened = OutputFile::open(state.path, manifest, options.force);
  if (!opened.ok()) {
    *failure = {opened.status(), Origin::kOutput, {}};
    return false;
  }
  state.out = std::move(opened.value());
  state.reused = state.out->reused_bytes();
  state.bar = std::make_unique<ProgressBar>("get " + manifest.name, manifest.size, progress_enabled(quiet));
  state.bar->add(state.reused);
  return true;
}

// One attempt: LOCATE `query`, then fetch the chunks the output lacks and
// finish OUT. False on failure, with `failure` set, and `again` when asking
// the tracker again may mend it: every holder of the answer failed or lacked
// a chunk; the tracker does not know the name yet while peers announce their
// files (a restarted tracker: `announcing`); the tracker is busy (its LOCATE
// timed out on a live connection); or, once an earlier answer named
// holders, the tracker knows none live right now: they are dying or
// restarting, and a restarted holder is listed again as soon as it has
// announced its files.
bool get_once(Session& session, const GetOptions& options, const std::string& query, bool quiet, GetState& state,
              Failure* failure, bool* again) {
  *again = false;
  const bool retrying = state.first.has_value();  // an earlier attempt got an answer
  std::optional<proto::LocateReply> located = session.locate(query, failure);
  if (!located) {
    const ErrorCode code = failure->status.code();
    *again = code == ErrorCode::kAnnouncing || failure->tracker_busy || (retrying && code == ErrorCode::kUnavailable);
    return false;
  }
  if (!state.first) {
    state.first = located;
  } else if (located->file_id != state.first->file_id) {
    *failure = {{ErrorCode::kBadRequest, "the tracker answered about another file than " + state.first->file_id.hex()},
                Origin::kLocal, {}};
    return false;
  }
  const Manifest& manifest = state.first->manifest;
  if (located->holders.empty()) {
    *again = retrying;
    *failure = {{ErrorCode::kUnavailable, "'" + manifest.name + "' has no live holder"}, Origin::kLocal, {}};
    return false;
  }
  if (!state.out && !open_output(options, quiet, state, failure)) return false;

  OutputFile& out = *state.out;
  Status s = session.fetch(manifest, out.missing(), located->holders, out, [&](std::uint64_t bytes) {
    state.fetched += bytes;
    state.bar->add(bytes);
  });
  if (!s.ok()) {
    *again = s.code() == ErrorCode::kUnavailable;
    // Only verified chunks are in the .part file: the next get resumes from it.
    *failure = {{s.code(), s.message() + "; verified chunks kept in " + out.part_path()}, Origin::kOutput, {}};
    return false;
  }
  if (Status f = out.finish(); !f.ok()) {
    *failure = {f, Origin::kOutput, {}};
    return false;
  }
  state.bar->finish();
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
  GetState got;
  Failure failure;
  bool done = false;
  while (attempts.next()) {
    if (attempts.made() > 1 && !global.quiet)
      std::fprintf(stderr, "p2p: warning: get of '%s' failed (%s); asking the tracker again\n", options.query.c_str(),
                   failure.status.message().c_str());
    bool again = false;
    done = get_once(session, options, query, global.quiet, got, &failure, &again);
    if (done || !again) break;
    // The same content as the first answer, even if the name is rebound meanwhile.
    if (got.first) query = got.first->file_id.hex();
  }
  if (!done) return fail(failure.status, failure.origin);

  const proto::LocateReply& located = *got.first;
  const Manifest& manifest = located.manifest;
  if (options.json) {
    nlohmann::json j{{"file_id", located.file_id.hex()}, {"name", manifest.name}, {"path", got.path},
                     {"size", manifest.size}, {"fetched_bytes", got.fetched}, {"reused_bytes", got.reused}};
    print_json(j);
  } else {
    std::printf("wrote %s (%s, file id %s)\n", got.path.c_str(), human_bytes(manifest.size).c_str(),
                located.file_id.hex().c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
