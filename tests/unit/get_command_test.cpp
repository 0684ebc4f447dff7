// `p2p get` (client/get_command.h) against a fake tracker and fake holders on
// inproc: when a get whose holders all failed asks the tracker again, what
// it asks, and that it keeps the chunks it has.
#include <catch2/catch.hpp>

#include <fstream>
#include <mutex>
#include <set>

#include "client/exit_codes.h"
#include "client/get_command.h"
#include "client/output_file.h"
#include "common/sha256.h"
#include "fake_peer.h"
#include "tests/support/file_bytes.h"
#include "tests/support/temp_dir.h"

using namespace p2p;
using namespace std::chrono_literals;
using test::FakePeer;
using test::FakeReply;

namespace {

constexpr std::uint32_t kChunk = limits::kMinChunkSize;
constexpr std::uint64_t kChunks = 4;

std::string file_bytes() { return test::patterned_bytes(kChunks * kChunk - 100); }

// A holder that serves the chunks in `has` and answers not_found for the
// others (it lacks them: no holder left for those, at once, without a timeout).
struct Holder {
  const std::string& bytes;
  const Manifest& manifest;
  const std::set<std::uint64_t> has;
  std::mutex mu;
  int requests = 0;

  Holder(const std::string& b, const Manifest& m, std::set<std::uint64_t> h) : bytes(b), manifest(m), has(std::move(h)) {}

  FakePeer::Handler handler() {
    return [this](const codec::Envelope& env) {
      std::lock_guard lock(mu);
      ++requests;
      proto::ChunkRef ref;
      if (env.cmd() != proto::Command::kGetChunk || !codec::decode(env.body, &ref).ok())
        return FakeReply::error(ErrorCode::kBadRequest, "not a GET_CHUNK");
      for (std::uint64_t i : has) {
        if (manifest.chunks[i] != ref.hash) continue;
        FakeReply r;
        r.body = codec::encode(ref);
        r.data = bytes.substr(i * kChunk, kChunk);
        return r;
      }
      return FakeReply::error(ErrorCode::kNotFound, "no such chunk");
    };
  }
  int served() {
    std::lock_guard lock(mu);
    return requests;
  }
};

// The tracker: the first `silent` LOCATEs get no answer (a busy tracker), the
// next `stale` ones list only the failing holder (as a tracker does that has
// not noticed its death yet), the next `gap` ones say no holder is live (it
// restarted and has not announced yet), the later ones list only the good
// holder; or, with `refuse`, every LOCATE is answered `refuse`.
struct Tracker {
  const Manifest& manifest;
  std::string failing, good;  // holder endpoints
  const int silent;
  const int stale;
  const int gap;
  const std::optional<ErrorCode> refuse;
  std::mutex mu;
  std::vector<std::string> queries;

  Tracker(const Manifest& m, std::string failing_endpoint, std::string good_endpoint, int unanswered,
          int stale_answers, int gap_answers, std::optional<ErrorCode> refusal)
      : manifest(m),
        failing(std::move(failing_endpoint)),
        good(std::move(good_endpoint)),
        silent(unanswered),
        stale(stale_answers),
        gap(gap_answers),
        refuse(refusal) {}

  FakePeer::Handler handler() {
    return [this](const codec::Envelope& env) {
      std::lock_guard lock(mu);
      proto::QueryRequest req;
      if (env.cmd() != proto::Command::kLocate || !codec::decode(env.body, &req).ok())
        return FakeReply::error(ErrorCode::kBadRequest, "not a LOCATE");
      queries.push_back(req.query);
      if (refuse) return FakeReply::error(*refuse, "refused");
      if (static_cast<int>(queries.size()) <= silent) return FakeReply::silence();
      const int n = static_cast<int>(queries.size()) - silent;
      if (n > stale && n <= stale + gap) return FakeReply::error(ErrorCode::kUnavailable, "no live peer holds it");
      const bool is_stale = n <= stale;
      FakeReply r;
      r.body = codec::encode(proto::LocateReply{manifest.file_id(), manifest,
                                                {{is_stale ? "peer-failing" : "peer-good", is_stale ? failing : good}}});
      return r;
    };
  }
  std::vector<std::string> asked() {
    std::lock_guard lock(mu);
    return queries;
  }
};

Manifest doc_manifest(const std::string& bytes) {
  Manifest manifest;
  manifest.name = "doc.bin";
  manifest.size = bytes.size();
  manifest.chunk_size = kChunk;
  for (std::uint64_t i = 0; i < kChunks; ++i) {
    const std::string chunk = bytes.substr(i * kChunk, kChunk);
    manifest.chunks.push_back(sha256(chunk.data(), chunk.size()));
  }
  return manifest;
}

// How the fakes behave (Holder and Tracker say what each field does).
struct Scenario {
  std::set<std::uint64_t> failing_has{};  // chunks the failing holder serves before it lacks the rest
  int silent = 0;
  int stale = 1;
  int gap = 0;
  std::optional<ErrorCode> refuse{};
  // The tracker on tcp, where a client tells a busy tracker from an absent
  // one (inproc reports no connection events), and the client's timeout.
  bool tcp_tracker = false;
  std::chrono::milliseconds timeout = 3000ms;
};

// Members in order: the fakes' state is complete before their threads start
// (nothing is written to it afterwards outside its mutex), and the threads
// stop before their state and the context go.
struct GetNetwork {
  const std::string tag;
  const std::string bytes = file_bytes();
  const Manifest manifest = doc_manifest(bytes);
  zmq::context_t ctx;
  Holder failing;
  Holder good{bytes, manifest, {0, 1, 2, 3}};
  Tracker tracker;
  FakePeer failing_peer{ctx, tracker.failing, failing.handler()};
  FakePeer good_peer{ctx, tracker.good, good.handler()};
  const std::chrono::milliseconds timeout;
  FakePeer control;
  test::TempDir dir{"p2p-get-command"};

  explicit GetNetwork(std::string t, const Scenario& s = {})
      : tag(std::move(t)),
        failing(bytes, manifest, s.failing_has),
        tracker(manifest, "inproc://get-" + tag + "-failing", "inproc://get-" + tag + "-good", s.silent, s.stale, s.gap,
                s.refuse),
        timeout(s.timeout),
        control(ctx, s.tcp_tracker ? "tcp://127.0.0.1:*" : "inproc://get-" + tag + "-tracker", tracker.handler()) {}

  // run_get's exit code for `doc.bin` with a retry budget of `retry`, asking
  // the fake tracker, or the one at `tracker_endpoint` when given.
  int get(std::chrono::milliseconds retry, bool force = false, const std::string& tracker_endpoint = "") {
    client::GlobalOptions global;
    global.tracker = tracker_endpoint.empty() ? control.bound() : tracker_endpoint;
    global.timeout = timeout;
    global.quiet = true;
    client::GetOptions options;
    options.query = "doc.bin";
    options.output = (dir / "out.bin").string();
    options.retry = retry;
    options.force = force;
    return client::run_get(ctx, global, options);
  }
  std::filesystem::path out() const { return dir / "out.bin"; }
};

}  // namespace

TEST_CASE("a get whose holders all fail asks the tracker again by file id and completes from the holders it names now") {
  GetNetwork net("again");
  REQUIRE(net.get(10s) == 0);
  CHECK(test::read_bytes(net.out()) == net.bytes);
  const std::vector<std::string> asked = net.tracker.asked();
  REQUIRE(asked.size() == 2);
  CHECK(asked[0] == "doc.bin");
  CHECK(asked[1] == net.manifest.file_id().hex());  // the same content, even if the name moved
}

TEST_CASE("a get asked again fetches only the chunks it has not verified yet") {
  GetNetwork net("resume", {.failing_has = {0, 1}});  // serves half the file, then lacks the rest
  REQUIRE(net.get(10s) == 0);
  CHECK(test::read_bytes(net.out()) == net.bytes);
  CHECK(net.failing.served() >= 3);  // chunks 0 and 1, and a chunk it lacked
  CHECK(net.good.served() == 2);     // chunks 2 and 3 only
}

// Bytes this process has read through read(2)-like calls so far (rchar).
std::uint64_t bytes_read() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value)
    if (key == "rchar:") return value;
  FAIL("no rchar in /proc/self/io");
  return 0;
}

TEST_CASE("a get asked again does not read back the chunks it already wrote") {
  GetNetwork net("no-reread", {.failing_has = {0, 1, 2}});  // three chunks written before the holder fails
  const std::uint64_t before = bytes_read();
  REQUIRE(net.get(10s) == 0);
  const std::uint64_t read = bytes_read() - before;
  CHECK(test::read_bytes(net.out()) == net.bytes);  // after `read`: this reads the output
  CHECK(net.good.served() == 1);
  // Reading OUT.part back to find what it holds would be 3-4 chunks; the
  // rest is inproc signalling (8-byte eventfd reads).
  CHECK(read < kChunk);
}

TEST_CASE("a get asked again goes on asking while the tracker knows no live holder, until one is listed") {
  GetNetwork net("gap", {.gap = 2});
  REQUIRE(net.get(10s) == 0);
  CHECK(test::read_bytes(net.out()) == net.bytes);
  CHECK(net.tracker.asked().size() == 4);  // stale, no holder twice, good
}

TEST_CASE("a get with no retry budget fails when its holders all fail") {
  GetNetwork net("once");
  CHECK(net.get(0ms) == static_cast<int>(client::Exit::kUnavailable));
  CHECK(net.tracker.asked().size() == 1);
  CHECK_FALSE(std::filesystem::exists(net.out()));
}

TEST_CASE("a get that the tracker says has no live holder is not asked again") {
  GetNetwork net("none", {.refuse = ErrorCode::kUnavailable});
  CHECK(net.get(10s) == static_cast<int>(client::Exit::kUnavailable));
  CHECK(net.tracker.asked().size() == 1);
}

TEST_CASE("a get whose holders keep failing stops asking once its retry budget is spent") {
  GetNetwork net("spent", {.stale = 1000000});
  CHECK(net.get(300ms) == static_cast<int>(client::Exit::kUnavailable));
  CHECK(net.tracker.asked().size() >= 2);  // first pause 50 ms, budget 300 ms
  CHECK(net.good.served() == 0);
}

TEST_CASE("a get to an output another get is writing fails at once as an unwritable output and leaves it alone") {
  GetNetwork net("locked", {.stale = 0});  // the good holder from the first answer
  auto other = client::OutputFile::open(net.out().string(), net.manifest, false);
  REQUIRE(other.ok());
  // --force does not take over a .part that a running get holds either.
  for (bool force : {false, true}) CHECK(net.get(10s, force) == static_cast<int>(client::Exit::kOutputUnwritable));
  CHECK(net.tracker.asked().size() == 2);  // once each, not asked again: that would not help
  CHECK(net.good.served() == 0);
  CHECK_FALSE(std::filesystem::exists(net.out()));
  for (std::uint64_t i = 0; i < kChunks; ++i) {
    const std::string chunk = net.bytes.substr(i * kChunk, kChunk);
    REQUIRE(other.value()->write(i, chunk.data(), chunk.size()).ok());
  }
  REQUIRE(other.value()->finish().ok());
  CHECK(test::read_bytes(net.out()) == net.bytes);
}

TEST_CASE("a get whose LOCATE a connected tracker leaves unanswered asks again and completes") {
  GetNetwork net("busy", {.silent = 1, .stale = 0, .tcp_tracker = true, .timeout = 300ms});
  REQUIRE(net.get(10s) == 0);
  CHECK(test::read_bytes(net.out()) == net.bytes);
  const std::vector<std::string> asked = net.tracker.asked();
  REQUIRE(asked.size() == 2);  // the unanswered LOCATE, then the same again: no answer named a file yet
  CHECK(asked[1] == "doc.bin");
}

TEST_CASE("a get whose tracker is not there fails at its first timeout, without asking again") {
  GetNetwork net("absent", {.tcp_tracker = true, .timeout = 300ms});
  const auto start = Clock::now();
  // Port 1: nothing listens, so no connection ever comes up.
  CHECK(net.get(10s, false, "tcp://127.0.0.1:1") == static_cast<int>(client::Exit::kTrackerUnreachable));
  // Asked again, it would go on until the 10 s budget after the first timeout.
  CHECK(Clock::now() - start < 5s);
  CHECK(net.tracker.asked().empty());
}
