// print_json: how a command prints its --json result on stdout.
//
// Names are bytes, not always UTF-8 (common/file_name.h), while JSON text
// must be UTF-8: bytes that are not print as U+FFFD, and the file id beside
// them stays exact. nlohmann's plain dump() throws on them instead, which
// failed the command after its work was done and, once such a name was
// stored, every `ls --json` and `search --json` of every user.
#pragma once

#include <cstdio>

#include <nlohmann/json.hpp>

namespace p2p::client {

inline void print_json(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace p2p::client
