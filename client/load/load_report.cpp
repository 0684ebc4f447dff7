#include "client/load/load_report.h"

#include <cstdio>

namespace p2p::client::load {

namespace {

double per_second(double value, double seconds) { return seconds > 0 ? value / seconds : 0; }
double ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

void OpStats::merge(const OpStats& other) {
  count += other.count;
  bytes += other.bytes;
  errors += other.errors;
  retries += other.retries;
  latency.merge(other.latency);
}

void LoadReport::merge(const LoadReport& other) {
  for (std::size_t i = 0; i < kOpCount; ++i) ops[i].merge(other.ops[i]);
  corrupt_bytes += other.corrupt_bytes;
}

bool LoadReport::ok() const {
  for (const OpStats& s : ops)
    if (s.errors != 0) return false;
  return corrupt_bytes == 0;
}

nlohmann::json LoadReport::to_json() const {
  nlohmann::json j_ops = nlohmann::json::object();
  for (std::size_t i = 0; i < kOpCount; ++i) {
    const OpStats& s = ops[i];
    j_ops[op_name(static_cast<Op>(i))] = {
        {"count", s.count},
        {"ops_per_s", per_second(static_cast<double>(s.count), duration_s)},
        {"mb_per_s", per_second(static_cast<double>(s.bytes) / 1e6, duration_s)},
        {"p50_ms", ms(s.latency.percentile_us(0.50))},
        {"p95_ms", ms(s.latency.percentile_us(0.95))},
        {"p99_ms", ms(s.latency.percentile_us(0.99))},
        {"max_ms", ms(s.latency.max_us())},
        {"errors", s.errors},
        {"retries", s.retries},
    };
  }
  return {{"clients", clients},           {"duration_s", duration_s},      {"files", files},
          {"ops", j_ops},                 {"failed_gets", failed_gets()}, {"corrupt_bytes", corrupt_bytes},
          {"seed_retries", seed_retries}, {"ok", ok()},
          {"timeouts_ms",
           {{"tracker", timeouts_ms.tracker},
            {"chunk", timeouts_ms.chunk},
            {"hedge", timeouts_ms.hedge},
            {"retry", timeouts_ms.retry}}}};
}

std::string LoadReport::table() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-7s %9s %10s %9s %9s %9s %9s %9s %7s %8s\n", "op", "count", "ops/s", "MB/s",
                "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "retries");
  out += line;
  for (std::size_t i = 0; i < kOpCount; ++i) {
    const OpStats& s = ops[i];
    std::snprintf(line, sizeof line, "%-7s %9llu %10.1f %9.1f %9.3f %9.3f %9.3f %9.3f %7llu %8llu\n",
                  op_name(static_cast<Op>(i)), static_cast<unsigned long long>(s.count),
                  per_second(static_cast<double>(s.count), duration_s),
                  per_second(static_cast<double>(s.bytes) / 1e6, duration_s), ms(s.latency.percentile_us(0.50)),
                  ms(s.latency.percentile_us(0.95)), ms(s.latency.percentile_us(0.99)), ms(s.latency.max_us()),
                  static_cast<unsigned long long>(s.errors), static_cast<unsigned long long>(s.retries));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "clients %zu, %.2f s, %zu seeded files (%llu retries); failed gets %llu, corrupt bytes %llu: %s\n",
                clients, duration_s, files, static_cast<unsigned long long>(seed_retries),
                static_cast<unsigned long long>(failed_gets()),
                static_cast<unsigned long long>(corrupt_bytes), ok() ? "OK" : "FAILED");
  out += line;
  return out;
}

}  // namespace p2p::client::load
