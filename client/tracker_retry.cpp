#include "client/tracker_retry.h"

#include <cstdint>
#include <cstdio>

#include "client/retry_policy.h"

namespace p2p::client {

Status ask_again(TrackerClient& tracker, const AskOptions& options, const TrackerAttempt& attempt) {
  RetryPolicy policy;
  policy.budget = options.retry;
  std::uint64_t retries = 0;
  Attempts attempts(policy, retries);
  Status s;
  std::chrono::milliseconds not_before{0};
  while (attempts.next(not_before)) {
    std::optional<NotFinal> not_final;
    s = attempt(&not_final);
    not_before = std::chrono::milliseconds{0};
    std::string why;
    if (tracker.busy()) {
      why = s.message();
    } else if (not_final) {
      why = not_final->why;
      not_before = not_final->not_before;
    } else {
      break;
    }
    // Said at once, before a pause that can last the rejoin window, and only
    // when the budget allows another attempt.
    if (retries == 0 && !options.quiet && attempts.will_retry(not_before))
      std::fprintf(stderr, "p2p: warning: %s: %s; asking the tracker again\n", options.what.c_str(), why.c_str());
  }
  return s;
}

}  // namespace p2p::client
