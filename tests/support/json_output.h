// JSON output of `p2p ... --json`, parsed for assertions.
#pragma once

#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace p2p::test {

// Parses r.out. Throws std::runtime_error carrying describe(r) if the run
// failed or its stdout is not JSON, so the test report shows what happened.
nlohmann::json parse_json(const RunResult& r);

}  // namespace p2p::test
