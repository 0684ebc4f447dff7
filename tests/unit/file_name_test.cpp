#include <catch2/catch.hpp>

#include <string>

#include "common/file_name.h"
#include "common/limits.h"

using p2p::ErrorCode;
using p2p::validate_name;

TEST_CASE("ordinary names are accepted") {
  CHECK(validate_name("movie.mkv").ok());
  CHECK(validate_name("a").ok());
  CHECK(validate_name("report 2026 (final).pdf").ok());
  CHECK(validate_name("ünïcödé.txt").ok());
  CHECK(validate_name("...").ok());
  CHECK(validate_name(std::string(p2p::limits::kMaxNameBytes, 'x')).ok());
}

TEST_CASE("empty name is refused") { CHECK(validate_name("").code() == ErrorCode::kBadName); }

TEST_CASE("dot and dot-dot are refused") {
  CHECK(validate_name(".").code() == ErrorCode::kBadName);
  CHECK(validate_name("..").code() == ErrorCode::kBadName);
}

TEST_CASE("path separators are refused") {
  CHECK(validate_name("a/b").code() == ErrorCode::kBadName);
  CHECK(validate_name("/etc/passwd").code() == ErrorCode::kBadName);
  CHECK(validate_name("a\\b").code() == ErrorCode::kBadName);
}

TEST_CASE("NUL and control characters are refused") {
  CHECK(validate_name(std::string("a\0b", 3)).code() == ErrorCode::kBadName);
  CHECK(validate_name("tab\there").code() == ErrorCode::kBadName);
  CHECK(validate_name("new\nline").code() == ErrorCode::kBadName);
  CHECK(validate_name("del\x7f").code() == ErrorCode::kBadName);
}

TEST_CASE("names over 255 bytes are refused") {
  CHECK(validate_name(std::string(p2p::limits::kMaxNameBytes + 1, 'x')).code() == ErrorCode::kBadName);
}

TEST_CASE("a name of 64 hex digits is refused: it would read as a file id") {
  CHECK(validate_name(std::string(64, 'a')).code() == ErrorCode::kBadName);
  CHECK(validate_name(std::string(64, 'F')).code() == ErrorCode::kBadName);
  CHECK(validate_name(std::string(63, 'a')).ok());
  CHECK(validate_name(std::string(65, 'a')).ok());
  CHECK(validate_name(std::string(63, 'a') + "g").ok());
}
