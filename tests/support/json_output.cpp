#include "tests/support/json_output.h"

#include <stdexcept>

#include "tests/support/cluster.h"

namespace p2p::test {

nlohmann::json parse_json(const RunResult& r) {
  if (r.exit_code != 0) throw std::runtime_error("command failed:\n" + describe(r));
  try {
    return nlohmann::json::parse(r.out);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("stdout is not JSON (") + e.what() + "):\n" + describe(r));
  }
}

}  // namespace p2p::test
