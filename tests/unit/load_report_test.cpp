#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "client/load/load_report.h"

using namespace p2p::client::load;
using std::chrono::microseconds;

namespace {

LoadReport report_with_gets(std::uint64_t count, std::uint64_t errors, std::uint64_t retries) {
  LoadReport r;
  OpStats& get = r.op(Op::kGet);
  get.count = count;
  get.bytes = count * 1000;
  get.errors = errors;
  get.retries = retries;
  for (std::uint64_t i = 0; i < count; ++i) get.latency.record(microseconds(1000 * (i + 1)));
  return r;
}

}  // namespace

TEST_CASE("merged load reports add counts, bytes, errors, retries, latencies and corruption") {
  LoadReport a = report_with_gets(3, 1, 2);
  LoadReport b = report_with_gets(2, 0, 5);
  b.op(Op::kPut).count = 4;
  b.corrupt_bytes = 10;
  a.corrupt_bytes = 5;
  a.merge(b);
  CHECK(a.op(Op::kGet).count == 5);
  CHECK(a.op(Op::kGet).bytes == 5000);
  CHECK(a.op(Op::kGet).errors == 1);
  CHECK(a.op(Op::kGet).retries == 7);
  CHECK(a.op(Op::kGet).latency.count() == 5);
  CHECK(a.op(Op::kGet).latency.max_us() == 3000);
  CHECK(a.op(Op::kPut).count == 4);
  CHECK(a.corrupt_bytes == 15);
  CHECK(a.failed_gets() == 1);
}

TEST_CASE("a load report is ok only with no error in any operation and no corrupt byte") {
  CHECK(report_with_gets(5, 0, 3).ok());  // retries alone are not failures
  CHECK_FALSE(report_with_gets(5, 1, 0).ok());
  LoadReport put_failed;
  put_failed.op(Op::kPut).errors = 1;
  CHECK_FALSE(put_failed.ok());
  LoadReport locate_failed;
  locate_failed.op(Op::kLocate).errors = 1;
  CHECK_FALSE(locate_failed.ok());
  LoadReport corrupt;
  corrupt.corrupt_bytes = 1;
  CHECK_FALSE(corrupt.ok());
}

TEST_CASE("a load report's JSON has every key bench reads, per operation") {
  LoadReport r = report_with_gets(4, 0, 1);
  r.clients = 2;
  r.duration_s = 2.0;
  r.files = 9;
  r.seed_retries = 3;
  const nlohmann::json j = r.to_json();
  for (const char* key : {"clients", "duration_s", "files", "ops", "failed_gets", "corrupt_bytes", "seed_retries", "ok"}) {
    INFO(key);
    CHECK(j.contains(key));
  }
  CHECK(j["clients"] == 2);
  CHECK(j["files"] == 9);
  CHECK(j["ok"] == true);
  CHECK(j["seed_retries"] == 3);
  for (const char* op : {"get", "put", "search", "locate"}) {
    INFO(op);
    REQUIRE(j["ops"].contains(op));
    for (const char* key : {"count", "ops_per_s", "mb_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "retries"})
      CHECK(j["ops"][op].contains(key));
  }
  const auto& get = j["ops"]["get"];
  CHECK(get["count"] == 4);
  CHECK(get["retries"] == 1);
  CHECK(get["ops_per_s"].get<double>() == Approx(2.0));
  CHECK(get["mb_per_s"].get<double>() == Approx(4000 / 1e6 / 2.0));
  CHECK(get["max_ms"].get<double>() == Approx(4.0));
  CHECK(get["p50_ms"].get<double>() == Approx(2.0).epsilon(0.02));
}

TEST_CASE("a load report's JSON records the timeouts the run was given") {
  LoadReport r;
  r.timeouts_ms = {3000, 1000, 250, 12000};
  const nlohmann::json j = r.to_json();
  REQUIRE(j.contains("timeouts_ms"));
  CHECK(j["timeouts_ms"]["tracker"] == 3000);
  CHECK(j["timeouts_ms"]["chunk"] == 1000);
  CHECK(j["timeouts_ms"]["hedge"] == 250);
  CHECK(j["timeouts_ms"]["retry"] == 12000);
}

TEST_CASE("a failed load report says so in its JSON and its table") {
  LoadReport r = report_with_gets(1, 2, 0);
  r.corrupt_bytes = 77;
  const nlohmann::json j = r.to_json();
  CHECK(j["ok"] == false);
  CHECK(j["failed_gets"] == 2);
  CHECK(j["corrupt_bytes"] == 77);
  const std::string table = r.table();
  CHECK(table.find("FAILED") != std::string::npos);
  CHECK(table.find("corrupt bytes 77") != std::string::npos);
}

TEST_CASE("a load report's table has a row per operation and the retries column") {
  const std::string table = report_with_gets(2, 0, 6).table();
  for (const char* word : {"get ", "put ", "search ", "locate ", "p50 ms", "p99 ms", "max ms", "errors", "retries", "OK"}) {
    INFO(word);
    CHECK(table.find(word) != std::string::npos);
  }
  CHECK(table.find("FAILED") == std::string::npos);
}

TEST_CASE("a load report with no duration reports zero rates, not infinities") {
  LoadReport r = report_with_gets(3, 0, 0);
  r.duration_s = 0;
  const nlohmann::json j = r.to_json();
  CHECK(j["ops"]["get"]["ops_per_s"].get<double>() == 0.0);
  CHECK(j["ops"]["get"]["mb_per_s"].get<double>() == 0.0);
}
