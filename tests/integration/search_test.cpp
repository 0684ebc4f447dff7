// search, ls and stat: what the tracker's index answers after puts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/json_output.h"
#include "tests/support/random_file.h"

using namespace p2p::test;
namespace fs = std::filesystem;

namespace {

// Three peers holding three small files.
struct Indexed {
  Cluster c;
  Indexed() {
    int seed = 100;
    for (std::string name : {"alpha-report.txt", "beta-REPORT.TXT", "gamma.bin"}) {
      fs::path src = c.path(name + ".src");
      write_random_file(src, 1000 + seed, seed);
      ++seed;
      RunResult put = c.p2p({"put", src.string(), "--name", name, "--replicas", "2"});
      if (put.exit_code != 0) throw std::runtime_error("setup put failed:\n" + describe(put));
    }
  }
  std::vector<std::string> names(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    for (const auto& f : parse_json(c.p2p(args))) out.push_back(f["name"]);
    return out;
  }
};

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("search without wildcards is a case-insensitive substring match sorted by name", "[search]") {
  Indexed x;
  CHECK(x.names({"search", "report", "--json"}) == Names{"alpha-report.txt", "beta-REPORT.TXT"});
  CHECK(x.names({"search", "GAMMA", "--json"}) == Names{"gamma.bin"});
  CHECK(x.names({"search", "nothing-like-this", "--json"}).empty());
}

TEST_CASE("search with wildcards is a case-insensitive glob over the whole name", "[search]") {
  Indexed x;
  CHECK(x.names({"search", "*.txt", "--json"}) == Names{"alpha-report.txt", "beta-REPORT.TXT"});
  CHECK(x.names({"search", "g?mma.*", "--json"}) == Names{"gamma.bin"});
  // A glob must match the whole name, not a part of it.
  CHECK(x.names({"search", "report*", "--json"}).empty());
  CHECK(x.names({"search", "*", "--json"}).size() == 3);
}

TEST_CASE("ls lists every file with its size and holders and file id", "[ls]") {
  Indexed x;
  auto files = parse_json(x.c.p2p({"ls", "--json"}));
  REQUIRE(files.size() == 3);
  for (const auto& f : files) {
    INFO(f.dump());
    CHECK(f["file_id"].get<std::string>().size() == 64);
    CHECK(f["holders"] == 2);
    CHECK(f["replicas"] == 2);
    CHECK(f["size"].get<std::uint64_t>() >= 1000);
  }
  RunResult text = x.c.p2p({"ls"});
  INFO(describe(text));
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("gamma.bin") != std::string::npos);
  CHECK(text.out.find("alpha-report.txt") != std::string::npos);
}

TEST_CASE("stat shows a file's live holders by name and by file id", "[stat]") {
  Indexed x;
  auto by_name = parse_json(x.c.p2p({"stat", "gamma.bin", "--json"}));
  INFO(by_name.dump());
  CHECK(by_name["name"] == "gamma.bin");
  CHECK(by_name["holders"] == 2);
  REQUIRE(by_name["holder_peers"].size() == 2);
  std::set<std::size_t> holders;
  for (const auto& h : by_name["holder_peers"]) {
    auto i = x.c.peer_index(h["endpoint"].get<std::string>());
    REQUIRE(i.has_value());
    CHECK(h["peer_id"] == x.c.peer_id(*i));
    holders.insert(*i);
  }
  CHECK(holders.size() == 2);

  auto by_id = parse_json(x.c.p2p({"stat", by_name["file_id"].get<std::string>(), "--json"}));
  CHECK(by_id["name"] == "gamma.bin");
  CHECK(by_id["holder_peers"].size() == 2);

  RunResult text = x.c.p2p({"stat", "gamma.bin"});
  INFO(describe(text));
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find(by_name["holder_peers"][0]["endpoint"].get<std::string>()) != std::string::npos);
}

TEST_CASE("JSON output of every query command parses", "[json]") {
  Indexed x;
  CHECK(parse_json(x.c.p2p({"search", "", "--json"})).size() == 3);
  CHECK(parse_json(x.c.p2p({"ls", "--json"})).is_array());
  CHECK(parse_json(x.c.p2p({"stat", "alpha-report.txt", "--json"})).is_object());
  auto peers = parse_json(x.c.p2p({"peers", "--json"}));
  REQUIRE(peers.size() == 3);
  for (const auto& p : peers) CHECK(x.c.peer_index(p["endpoint"].get<std::string>()).has_value());
  auto status = parse_json(x.c.p2p({"status", "--json"}));
  INFO(status.dump());
  CHECK(status["peers"] == 3);
  CHECK(status["files"] == 3);
}
