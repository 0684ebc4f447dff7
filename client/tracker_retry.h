// Asking the tracker again: the client's one rule for a request whose answer
// may change if asked later (docs/protocol.md 5.4).
//
// A request is asked again, after RetryPolicy's pause and within `retry` of
// the first such outcome, when
// - the tracker is busy: it timed out on a connection that was up
//   (TrackerClient::busy), so the tracker process is there; or
// - the caller says the answer is not final (the tracker's index is
//   incomplete, or STAT answered `announcing`).
// Anything else ends it: an answer, or a failure asking again cannot mend (a
// tracker that is not there fails at its first timeout).
//
// Thread affinity: the caller's; `tracker` is used only inside the call.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "common/tracker_client.h"

namespace p2p::client {

// Why an answer is not final, for the warning, and how long it cannot change
// (the tracker's rejoin window left): the next ask comes no sooner.
struct NotFinal {
  std::string why;
  std::chrono::milliseconds not_before{0};
};

struct AskOptions {
  std::chrono::milliseconds retry{0};  // the budget after the first outcome worth asking again; 0: ask once
  bool quiet = false;                  // no warning on stderr
  std::string what;                    // the command, for the warning ("ls", "status")
};

// One request to the tracker. Returns its status; sets `*not_final` when it
// is worth asking again although the tracker answered.
using TrackerAttempt = std::function<Status(std::optional<NotFinal>* not_final)>;

// Runs `attempt` until it is final or the budget is spent; returns the last
// attempt's status. Warns once, before the first pause, when it will ask again.
Status ask_again(TrackerClient& tracker, const AskOptions& options, const TrackerAttempt& attempt);

// ask_again for a request whose every answer is final: asked again only while
// the tracker is busy (peers, status, leave).
template <class Body, class Reply>
Status ask_while_busy(TrackerClient& tracker, proto::Command command, const Body& body, Reply* reply,
                      const AskOptions& options) {
  return ask_again(tracker, options,
                   [&](std::optional<NotFinal>*) { return tracker.call(command, body, reply); });
}

}  // namespace p2p::client
