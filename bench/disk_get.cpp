// p2p-bench-disk-get: the disk's ceiling for one get, on the very chunks it reads.
//
//   p2p-bench-disk-get --tracker EP --data DIR [--data DIR ...] --out PATH [--depth 4] [--json] NAME
//
// A get moves each chunk from a holder's disk to the output file's disk; on
// this machine both are the same virtual disk, and how fast it reads depends
// on how recently the data was written (docs/performance.md). So the ceiling
// is measured on the same data at the same moment: LOCATE NAME at the
// tracker, find each holder's data dir among --data (by its peer_id file),
// then --depth threads per holder (the get keeps that many chunks in flight
// per holder, each read by one of the holder's workers) read its share of the
// chunks (chunk i from holder i mod n, as the fetch spreads them) through
// the page cache, as a peer serves them (read_cached), and each writes what
// it read at its offset of PATH with O_DIRECT through an aligned buffer, as
// the client does; then truncate and fsync PATH, as the client does. No network, no hashing, no
// ZeroMQ: only the get's disk work, with at least the get's parallelism
// (the client has one writer thread; here every reader writes).
//
// Prints one line (or, with --json, one JSON object {"bytes","seconds",
// "mb_per_s","readers"}). MB = 10^6 B. Exit status: 0 measured, 1 failed,
// 2 usage. PATH is left in place (the bench removes it).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "common/chunk_store.h"
#include "common/direct_io.h"
#include "common/limits.h"
#include "common/sockets.h"
#include "common/protocol.h"
#include "common/tracker_client.h"

namespace {

using p2p::Clock;
using p2p::Status;
namespace proto = p2p::proto;

// How long to wait for the tracker's LOCATE answer.
constexpr std::chrono::milliseconds kTrackerTimeout{5000};

struct Options {
  std::string tracker = "tcp://127.0.0.1:5555";
  std::vector<std::string> data_dirs;
  std::string out;
  std::string name;
  unsigned depth = 4;  // FetchOptions::window, and each peer has 4 workers
  bool json = false;
};

std::string peer_id_of(const std::string& dir) {
  std::ifstream in(dir + "/peer_id");
  std::string id;
  std::getline(in, id);
  return id;
}

int run(const Options& o) {
  zmq::context_t ctx(1);
  proto::LocateReply located;
  {
    p2p::TrackerClient tracker(ctx, o.tracker, kTrackerTimeout);
    if (Status s = tracker.call(proto::Command::kLocate, proto::QueryRequest{o.name}, &located); !s.ok()) {
      std::fprintf(stderr, "disk-get: LOCATE %s: %s\n", o.name.c_str(), s.to_string().c_str());
      return 1;
    }
  }
  std::vector<std::string> dirs;  // one per holder found among --data
  for (const auto& h : located.holders)
    for (const auto& d : o.data_dirs)
      if (peer_id_of(d) == h.peer_id) dirs.push_back(d);
  if (dirs.empty()) {
    std::fprintf(stderr, "disk-get: no --data dir belongs to a holder of %s\n", o.name.c_str());
    return 1;
  }
  const p2p::Manifest& m = located.manifest;
  if (Status s = m.validate(); !s.ok()) {  // from the network: sizes and offsets below come from it
    std::fprintf(stderr, "disk-get: LOCATE %s: bad manifest: %s\n", o.name.c_str(), s.to_string().c_str());
    return 1;
  }
  bool direct = false;
  const int fd = p2p::open_maybe_direct(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, true, &direct);
  if (fd < 0) {
    std::perror(o.out.c_str());
    return 1;
  }

  std::atomic<bool> failed{false};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> readers;
  const std::size_t n = dirs.size();
  for (std::size_t t = 0; t < n * o.depth; ++t) {
    readers.emplace_back([&, t] {
      const std::size_t r = t % n;  // this thread's holder
      p2p::DirectWriter writer;
      // The holder's chunks are r, r + n, r + 2n, ...; its depth threads take turns.
      for (std::uint64_t i = t; i < m.chunk_count() && !failed.load(); i += n * o.depth) {
        p2p::Result<zmq::message_t> bytes = p2p::read_cached(p2p::ChunkStore::chunk_path_in(dirs[r], m.chunks[i]).string(),
                                                                p2p::limits::kMaxChunkSize);
        Status s = bytes.ok() ? writer.pwrite(fd, direct, bytes->data(), bytes->size(), m.chunk_offset(i), o.out)
                              : bytes.status();
        if (!s.ok()) {
          std::fprintf(stderr, "disk-get: chunk %llu: %s\n", static_cast<unsigned long long>(i), s.to_string().c_str());
          failed.store(true);
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  Status synced;
  if (failed.load()) synced = {p2p::ErrorCode::kIo, "a chunk failed (above)"};
  else if (::ftruncate(fd, static_cast<off_t>(m.size)) != 0) synced = p2p::errno_status("truncate", o.out, errno);
  else if (::fsync(fd) != 0) synced = p2p::errno_status("fsync", o.out, errno);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  if (!synced.ok()) {
    std::fprintf(stderr, "disk-get: %s\n", synced.to_string().c_str());
    return 1;
  }
  const double mb_s = static_cast<double>(m.size) / 1e6 / seconds;
  if (o.json)
    std::printf("{\"bytes\": %llu, \"seconds\": %.4f, \"mb_per_s\": %.1f, \"readers\": %zu}\n",
                static_cast<unsigned long long>(m.size), seconds, mb_s, dirs.size());
  else
    std::printf("%s: %llu bytes from %zu holders' disks in %.3f s: %.1f MB/s\n", o.name.c_str(),
                static_cast<unsigned long long>(m.size), dirs.size(), seconds, mb_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"p2p-bench-disk-get: a get's disk work alone (O_DIRECT chunk reads + output writes)"};
  app.add_option("--tracker", o.tracker, "tracker endpoint")->envname("P2P_TRACKER")->capture_default_str();
  app.add_option("--data", o.data_dirs, "a peer's data dir (repeat; the holders' are used)")->required();
  app.add_option("--out", o.out, "output file")->required();
  app.add_option("--depth", o.depth, "reads in flight per holder")->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_flag("--json", o.json, "print one JSON object");
  app.add_option("name", o.name, "file name (or id) to read")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "disk-get: %s\n", e.what());
    return 1;
  }
}
