#include <catch2/catch.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <string>

#include "common/sha256.h"
#include "tests/support/file_bytes.h"

using p2p::Hash;
using p2p::sha256;

TEST_CASE("sha256 matches the FIPS 180-2 test vectors") {
  CHECK(sha256("", 0).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256("abc", 3).hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("incremental sha256 equals the one-shot digest") {
  std::string data(100000, 'q');
  p2p::Sha256 h;
  h.update(data.data(), 12345);
  h.update(data.data() + 12345, data.size() - 12345);
  CHECK(h.finish() == sha256(data.data(), data.size()));
}

TEST_CASE("sha256 equals OpenSSL's EVP digest at every length around a block boundary") {
  // common/sha256 uses SHA256_* rather than EVP (sha256.h says why); EVP is the reference here.
  const std::string data = p2p::test::patterned_bytes(1 << 20 | 77);
  auto evp = [&](std::size_t n) {
    Hash h;
    unsigned int len = 0;
    EVP_Digest(data.data(), n, h.bytes.data(), &len, EVP_sha256(), nullptr);
    return h;
  };
  for (std::size_t n = 0; n <= 200; ++n) {
    INFO("length " << n);
    REQUIRE(sha256(data.data(), n) == evp(n));
  }
  p2p::Sha256 h;
  for (std::size_t off = 0; off < data.size(); off += 4093)
    h.update(data.data() + off, std::min<std::size_t>(4093, data.size() - off));
  CHECK(h.finish() == evp(data.size()));
}

TEST_CASE("hash survives hex round trip in either case") {
  Hash h = sha256("abc", 3);
  auto lower = Hash::from_hex(h.hex());
  REQUIRE(lower);
  CHECK(*lower == h);
  std::string upper = h.hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto parsed = Hash::from_hex(upper);
  REQUIRE(parsed);
  CHECK(*parsed == h);
}

TEST_CASE("malformed hex is not a hash") {
  CHECK_FALSE(Hash::from_hex("abc"));
  CHECK_FALSE(Hash::from_hex(std::string(64, 'g')));
  CHECK_FALSE(Hash::from_hex(std::string(65, 'a')));
}
