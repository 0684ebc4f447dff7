// The flags that say where the network is and how long to wait for it:
// --tracker (or $P2P_TRACKER), --timeout-ms, --chunk-timeout-ms and --hedge-ms, shared by
// p2p and p2p-load so both spell, check and document them the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace p2p::client {

// The longest wait any millisecond flag of p2p or p2p-load accepts: a day is
// past any wait a command should make, and keeps now() + wait far from
// overflowing a steady_clock deadline (10^13 ms failed every request at once).
inline constexpr std::int64_t kMaxFlagMillis = 86'400'000;

// A millisecond count from 1 to kMaxFlagMillis, stored into *target when
// parsed. `target` must outlive app.parse().
inline CLI::Option* add_millis_flag(CLI::App& app, const std::string& name, std::chrono::milliseconds* target,
                                    const std::string& what) {
  return app
      .add_option_function<std::int64_t>(
          name, [target](std::int64_t ms) { *target = std::chrono::milliseconds(ms); }, what)
      ->check(CLI::Range(std::int64_t{1}, kMaxFlagMillis))
      ->default_str(std::to_string(target->count()));
}

// Adds the four flags to `app`, writing into options.tracker, .timeout,
// .chunk_timeout and .hedge_after (their current values are the defaults shown
// by --help).
// `Options` is GlobalOptions or SessionOptions; `options` must outlive
// app.parse().
template <class Options>
void add_session_flags(CLI::App& app, Options& options) {
  app.add_option("--tracker", options.tracker, "tracker endpoint")->envname("P2P_TRACKER")->capture_default_str();
  add_millis_flag(app, "--timeout-ms", &options.timeout, "deadline of each tracker request");
  add_millis_flag(app, "--chunk-timeout-ms", &options.chunk_timeout, "deadline of each peer request");
  add_millis_flag(app, "--hedge-ms", &options.hedge_after,
                  "a chunk unanswered this long (or 4x the slowest reply) is also asked of an idle holder; "
                  "at or above --chunk-timeout-ms, never");
}

}  // namespace p2p::client
