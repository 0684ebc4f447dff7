// One-line logs to stderr: "2026-11-25T10:00:00.123Z tracker INFO message".
// Thread-safe (one fprintf per line). Set the component once per process.
#pragma once

#include <optional>
#include <string_view>

namespace p2p::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void set_component(const char* name);  // REQUIRES: a string literal or static storage
void set_level(Level level);
// "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace p2p::log

#define P2P_DEBUG(...) ::p2p::log::write(::p2p::log::Level::kDebug, __VA_ARGS__)
#define P2P_INFO(...) ::p2p::log::write(::p2p::log::Level::kInfo, __VA_ARGS__)
#define P2P_WARN(...) ::p2p::log::write(::p2p::log::Level::kWarn, __VA_ARGS__)
#define P2P_ERROR(...) ::p2p::log::write(::p2p::log::Level::kError, __VA_ARGS__)
