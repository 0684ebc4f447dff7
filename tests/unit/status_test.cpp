#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "common/status.h"

using p2p::ErrorCode;
using p2p::errno_status;
using p2p::io_error;

TEST_CASE("a full disk is reported as no_space, other system errors as io") {
  CHECK(errno_status("write", "/d/f", ENOSPC).code() == ErrorCode::kNoSpace);
  CHECK(errno_status("write", "/d/f", EDQUOT).code() == ErrorCode::kNoSpace);
  CHECK(errno_status("read", "/d/f", EIO).code() == ErrorCode::kIo);
  CHECK(errno_status("open", "/d/f", ENOENT).code() == ErrorCode::kIo);
}

TEST_CASE("a system error names the call, the path and the reason") {
  const std::string message = errno_status("open", "/d/f", ENOENT).message();
  CHECK(message.find("open /d/f: ") == 0);
  CHECK(message.size() > std::string("open /d/f: ").size());
}

TEST_CASE("a full disk under the user's own file is an io error that names the file") {
  const p2p::Status s = io_error("cannot write", "/d/out.part", ENOSPC);
  CHECK(s.code() == ErrorCode::kIo);
  CHECK(s.message().find("cannot write '/d/out.part': ") == 0);
}
