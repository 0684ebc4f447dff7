#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "client/load/hashing_sink.h"
#include "common/sha256.h"

using p2p::client::load::HashingSink;

namespace {

// Four chunks of different lengths and contents.
const std::vector<std::string> kChunks = {std::string(1000, 'a'), std::string(1000, 'b'), std::string(1000, 'c'),
                                          std::string(10, 'd')};

p2p::Hash whole() {
  std::string all;
  for (const auto& c : kChunks) all += c;
  return p2p::sha256(all.data(), all.size());
}

void write(HashingSink& sink, std::uint64_t i) { REQUIRE(sink.write(i, kChunks[i].data(), kChunks[i].size()).ok()); }

}  // namespace

TEST_CASE("a hashing sink fed in order gives the file's SHA-256") {
  HashingSink sink;
  for (std::uint64_t i = 0; i < kChunks.size(); ++i) write(sink, i);
  CHECK(sink.hashed_bytes() == 3010);
  auto digest = sink.finish(kChunks.size());
  REQUIRE(digest.ok());
  CHECK(digest.value() == whole());
}

TEST_CASE("a hashing sink fed out of order gives the same SHA-256") {
  HashingSink sink;
  write(sink, 2);
  write(sink, 3);
  CHECK(sink.hashed_bytes() == 0);  // early chunks wait for chunk 0
  write(sink, 0);
  CHECK(sink.hashed_bytes() == 1000);
  write(sink, 1);
  CHECK(sink.hashed_bytes() == 3010);  // chunk 1 releases the waiting 2 and 3
  auto digest = sink.finish(kChunks.size());
  REQUIRE(digest.ok());
  CHECK(digest.value() == whole());
}

TEST_CASE("a hashing sink missing a chunk refuses to finish") {
  HashingSink sink;
  write(sink, 0);
  write(sink, 2);
  write(sink, 3);
  auto digest = sink.finish(kChunks.size());
  REQUIRE_FALSE(digest.ok());
  CHECK(digest.status().code() == p2p::ErrorCode::kInternal);
}

TEST_CASE("a hashing sink given fewer chunks than the file has refuses to finish") {
  HashingSink sink;
  write(sink, 0);
  write(sink, 1);
  CHECK_FALSE(sink.finish(kChunks.size()).ok());
}

TEST_CASE("a hashing sink given more chunks than the file has refuses to finish") {
  HashingSink sink;
  for (std::uint64_t i = 0; i < kChunks.size(); ++i) write(sink, i);
  CHECK_FALSE(sink.finish(kChunks.size() - 1).ok());
}

TEST_CASE("a hashing sink of an empty file gives the SHA-256 of nothing") {
  HashingSink sink;
  auto digest = sink.finish(0);
  REQUIRE(digest.ok());
  CHECK(digest.value() == p2p::sha256("", 0));
}
