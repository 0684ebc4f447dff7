#include "client/get_command.h"

#include <cstdio>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "client/exit_codes.h"
#include "client/output_file.h"
#include "client/progress_bar.h"
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

}  // namespace

int run_get(zmq::context_t& ctx, const GlobalOptions& global, const GetOptions& options) {
  if (!Hash::from_hex(options.query)) {
    if (Status s = validate_name(options.query); !s.ok())
      return fail(Exit::kBadName, "invalid name '" + options.query + "': " + s.message());
  }

  Session session(ctx, session_options(global));
  Failure failure;
  std::optional<proto::LocateReply> located = session.locate(options.query, &failure);
  if (!located) return fail(failure.status, failure.origin);
  const Manifest& manifest = located->manifest;
  if (located->holders.empty())
    return fail(Exit::kUnavailable, "'" + manifest.name + "' has no live holder");

  // Before any chunk is fetched: an output we may not write fails now.
  const std::string path = output_path(options, manifest.name);
  Result<std::unique_ptr<OutputFile>> opened = OutputFile::open(path, manifest, options.force);
  if (!opened.ok()) return fail(opened.status(), Origin::kOutput);
  OutputFile& out = *opened.value();

  ProgressBar bar("get " + manifest.name, manifest.size, progress_enabled(global.quiet));
  bar.add(out.reused_bytes());
  std::uint64_t fetched = 0;
  Status s = session.fetch(manifest, out.missing(), located->holders, out, [&](std::uint64_t bytes) {
    fetched += bytes;
    bar.add(bytes);
  });
  if (!s.ok()) {
    // Only verified chunks are in the .part file: the next get resumes from it.
    Status with_hint{s.code(), s.message() + "; verified chunks kept in " + out.part_path()};
    return fail(with_hint, Origin::kOutput);
  }
  if (Status f = out.finish(); !f.ok()) return fail(f, Origin::kOutput);
  bar.finish();

  if (options.json) {
    nlohmann::json j{{"file_id", located->file_id.hex()}, {"name", manifest.name}, {"path", path},
                     {"size", manifest.size}, {"fetched_bytes", fetched}, {"reused_bytes", out.reused_bytes()}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("wrote %s (%s, file id %s)\n", path.c_str(), human_bytes(manifest.size).c_str(),
                located->file_id.hex().c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
