#include "client/leave_command.h"
#include "client/json_print.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "client/exit_codes.h"
#include "client/tracker_retry.h"
#include "common/tracker_client.h"

namespace p2p::client {

int run_leave(zmq::context_t& ctx, const GlobalOptions& global, const std::string& peer_id, bool json,
              std::chrono::milliseconds retry) {
  if (peer_id.empty()) return fail(Exit::kUsage, "leave: empty peer id");
  TrackerClient tracker(ctx, global.tracker, global.timeout);
  proto::Empty reply;
  if (Status s =
          ask_while_busy(tracker, proto::Command::kLeave, proto::QueryRequest{peer_id}, &reply, {retry, global.quiet, "leave"});
      !s.ok())
    return fail(s, Origin::kTracker);
  if (json) {
    print_json(nlohmann::json{{"peer_id", peer_id}, {"draining", true}});
  } else {
    std::printf("peer %s is draining: it leaves once every file it holds is safe on other peers "
                "(see `p2p peers`)\n",
                peer_id.c_str());
  }
  return static_cast<int>(Exit::kSuccess);
}

}  // namespace p2p::client
