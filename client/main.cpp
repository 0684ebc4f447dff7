// p2p: the command-line client (docs/design-brief.md "p2p (client)").
// Parses flags, then hands over to one subcommand; every failure ends as one
// "p2p: ..." line on stderr and a documented exit code (client/exit_codes.h).
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "client/exit_codes.h"
#include "client/get_command.h"
#include "client/global_options.h"
#include "client/leave_command.h"
#include "client/put_command.h"
#include "client/query_commands.h"
#include "client/retry_policy.h"
#include "client/session_flags.h"
#include "common/log.h"
#include "common/malloc_tuning.h"
#include "common/sockets.h"

namespace {

using namespace p2p::client;

// ZeroMQ checks an endpoint's syntax at connect time (the connection itself is
// asynchronous), so a throwaway connect tells a typo from an absent tracker.
bool valid_endpoint(zmq::context_t& ctx, const std::string& endpoint, std::string* why) {
  try {
    zmq::socket_t probe = p2p::make_socket(ctx, zmq::socket_type::dealer, 1024);
    probe.connect(endpoint);
    return true;
  } catch (const zmq::error_t& e) {
    *why = e.what();
    return false;
  }
}

// --retry-ms of a command that starts again after a failure it can mend.
void add_retry_option(CLI::App* command, std::chrono::milliseconds& retry, const std::string& what) {
  command
      ->add_option_function<std::int64_t>(
          "--retry-ms", [&retry](std::int64_t ms) { retry = std::chrono::milliseconds(ms); },
          what + " until this long after the first failure (0: never)")
      ->check(CLI::Range(std::int64_t{0}, kMaxFlagMillis))
      ->default_str(std::to_string(retry.count()));
}

int run(int argc, char** argv) {
  CLI::App app{"p2p: store and fetch files in a p2p-share network"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand too

  GlobalOptions global;
  add_session_flags(app, global);
  app.add_flag("-q,--quiet", global.quiet, "no progress bar or warnings (errors still print)");

  PutOptions put;
  CLI::App* put_cmd = app.add_subcommand("put", "store a local file");
  put_cmd->add_option("PATH", put.path, "file to store")->required();
  put_cmd->add_option("--name", put.name, "name in the network (default: the file name)");
  put_cmd->add_option("--replicas", put.replicas, "copies wanted (default: the tracker's)");
  put_cmd->add_flag("--force", put.force, "replace a different file of the same name");
  put_cmd->add_option("--chunk-size", put.chunk_size, "chunk size in bytes (K/M suffixes allowed; default raised for files over 480 GiB)")
      ->transform(CLI::AsSizeValue(false))
      ->each([&put](const std::string&) { put.chunk_size_given = true; })
      ->capture_default_str();
  put_cmd->add_flag("--json", put.json, "print JSON");
  add_retry_option(put_cmd, put.retry, "start a put failed by a busy or dead peer again");

  GetOptions get;
  CLI::App* get_cmd = app.add_subcommand("get", "fetch a file by name or file id");
  get_cmd->add_option("NAME_OR_FILE_ID", get.query, "name or 64-hex-digit file id")->required();
  get_cmd->add_option("-o,--output", get.output, "output path (default: ./NAME)");
  get_cmd->add_flag("--force", get.force, "overwrite an existing output");
  get_cmd->add_flag("--json", get.json, "print JSON");
  add_retry_option(get_cmd, get.retry, "ask the tracker again when every holder failed,");

  std::string pattern;
  bool json = false;
  // search, ls and stat ask again while the tracker's index is incomplete (protocol.md 5.4).
  std::chrono::milliseconds query_retry = RetryPolicy{}.budget;
  const std::string reannounce = "ask again while the tracker is busy or its peers re-announce,";
  CLI::App* search_cmd = app.add_subcommand("search", "find files by substring or glob");
  search_cmd->add_option("PATTERN", pattern, "substring, or glob with * and ?")->required();
  search_cmd->add_flag("--json", json, "print JSON");
  add_retry_option(search_cmd, query_retry, reannounce);
  CLI::App* ls_cmd = app.add_subcommand("ls", "list every file");
  ls_cmd->add_flag("--json", json, "print JSON");
  add_retry_option(ls_cmd, query_retry, reannounce);
  std::string query;
  CLI::App* stat_cmd = app.add_subcommand("stat", "show one file: wanted replicas, live holders");
  stat_cmd->add_option("NAME_OR_FILE_ID", query, "name or 64-hex-digit file id")->required();
  stat_cmd->add_flag("--json", json, "print JSON");
  add_retry_option(stat_cmd, query_retry, reannounce);
  // peers, status and leave ask again only while the tracker is busy (protocol.md 5.4).
  const std::string busy = "ask again while the tracker is busy,";
  CLI::App* peers_cmd = app.add_subcommand("peers", "list live peers, whether each is draining, copies it receives");
  peers_cmd->add_flag("--json", json, "print JSON");
  add_retry_option(peers_cmd, query_retry, busy);
  CLI::App* status_cmd =
      app.add_subcommand("status", "network totals, under-replicated and unavailable files, copies, draining peers");
  status_cmd->add_flag("--json", json, "print JSON");
  add_retry_option(status_cmd, query_retry, busy);
  std::string peer_id;
  CLI::App* leave_cmd = app.add_subcommand(
      "leave", "drain a peer: copy the files only it keeps enough of to other peers, then it exits");
  leave_cmd->add_option("PEER_ID", peer_id, "peer id, as `p2p peers` shows it")->required();
  leave_cmd->add_flag("--json", json, "print JSON");
  add_retry_option(leave_cmd, query_retry, busy);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every real parse error is a usage error.
    return app.exit(e) == 0 ? 0 : static_cast<int>(Exit::kUsage);
  }
  p2p::log::set_component("p2p");
  p2p::log::set_level(global.quiet ? p2p::log::Level::kError : p2p::log::Level::kWarn);

  zmq::context_t ctx;  // outlives every socket: commands close theirs before returning
  if (std::string why; !valid_endpoint(ctx, global.tracker, &why))
    return fail(Exit::kUsage, "invalid --tracker endpoint '" + global.tracker + "': " + why);

  if (*put_cmd) return run_put(ctx, global, put);
  if (*get_cmd) return run_get(ctx, global, get);
  if (*search_cmd) return run_search(ctx, global, pattern, json, query_retry);
  if (*ls_cmd) return run_ls(ctx, global, json, query_retry);
  if (*stat_cmd) return run_stat(ctx, global, query, json, query_retry);
  if (*peers_cmd) return run_peers(ctx, global, json, query_retry);
  if (*status_cmd) return run_status(ctx, global, json, query_retry);
  if (*leave_cmd) return run_leave(ctx, global, peer_id, json, query_retry);
  return fail(Exit::kUsage, "no subcommand");
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts (mallopt is process-wide); best effort: a
  // sanitizer's malloc ignores it. See common/malloc_tuning.h.
  (void)p2p::keep_chunk_memory_mapped();
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return fail(Exit::kInternal, std::string("internal error: ") + e.what());
  }
}
