#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/codec.h"
#include "common/sha256.h"
#include "services/peer/control_queue.h"

using namespace p2p;
using peer::ControlQueue;

namespace {

Hash id_of(int n) {
  const std::string text = "file " + std::to_string(n);
  return sha256(text.data(), text.size());
}

// A link that takes `room` messages, then answers kUnavailable (a full queue)
// or, with `broken`, another error (a message that cannot be sent at all).
struct FakeLink {
  std::size_t room = 0;
  bool broken = false;
  std::vector<proto::Command> commands;
  std::vector<std::vector<Hash>> removed;  // the ids of each REMOVED taken

  ControlQueue::Sender sender() {
    return [this](proto::Command command, zmq::message_t body) -> Status {
      if (broken) return {ErrorCode::kShuttingDown, "link has left"};
      if (room == 0) return {ErrorCode::kUnavailable, "queue full"};
      --room;
      commands.push_back(command);
      if (command == proto::Command::kRemoved) {
        proto::FileList list;
        REQUIRE(codec::decode(body, &list).ok());
        removed.push_back(list.file_ids);
      }
      return {};
    };
  }
};

}  // namespace

TEST_CASE("owed REMOVED waits while the link is full and goes, oldest first, once it has room") {
  ControlQueue queue;
  queue.add_removed(id_of(1));
  queue.add_removed(id_of(2));
  FakeLink link;
  ControlQueue::Sent sent = queue.send(link.sender(), true);
  CHECK(sent.full);
  CHECK(sent.removed_ids == 0);
  CHECK(queue.removals() == 2);  // kept, not dropped
  CHECK(queue.ready(true));

  link.room = 1;
  sent = queue.send(link.sender(), true);
  CHECK_FALSE(sent.full);
  CHECK(sent.removed_ids == 2);
  CHECK(sent.removed_messages == 1);
  REQUIRE(link.removed.size() == 1);
  CHECK(link.removed[0] == std::vector<Hash>{id_of(1), id_of(2)});
  CHECK(queue.empty());
}

TEST_CASE("owed REMOVED ids go in messages of at most kMaxRemovedBatch ids") {
  ControlQueue queue;
  const std::size_t n = 2 * peer::kMaxRemovedBatch + 1;
  for (std::size_t i = 0; i < n; ++i) queue.add_removed(id_of(static_cast<int>(i)));
  FakeLink link;
  link.room = 2;  // room for two messages: the last id waits
  ControlQueue::Sent sent = queue.send(link.sender(), true);
  CHECK(sent.full);
  CHECK(sent.removed_messages == 2);
  REQUIRE(link.removed.size() == 2);
  CHECK(link.removed[0].size() == peer::kMaxRemovedBatch);
  CHECK(link.removed[1].size() == peer::kMaxRemovedBatch);
  CHECK(link.removed[0].front() == id_of(0));
  CHECK(link.removed[1].front() == id_of(static_cast<int>(peer::kMaxRemovedBatch)));
  CHECK(queue.removals() == 1);
}

TEST_CASE("owed DRAIN waits until it is allowed and for room, then goes once, after REMOVED") {
  ControlQueue queue;
  queue.owe_drain();
  queue.add_removed(id_of(1));
  FakeLink link;
  link.room = 10;

  // Not allowed yet (announcements still queued): REMOVED goes, DRAIN waits.
  ControlQueue::Sent sent = queue.send(link.sender(), false);
  CHECK_FALSE(sent.drain);
  CHECK(link.commands == std::vector<proto::Command>{proto::Command::kRemoved});
  CHECK(queue.drain_owed());
  CHECK_FALSE(queue.ready(false));  // nothing to send while DRAIN is not allowed
  CHECK(queue.ready(true));
  CHECK_FALSE(queue.empty());

  // Allowed, but the link is full: still owed.
  link.room = 0;
  sent = queue.send(link.sender(), true);
  CHECK(sent.full);
  CHECK(queue.drain_owed());

  link.room = 10;
  sent = queue.send(link.sender(), true);
  CHECK(sent.drain);
  CHECK(link.commands == std::vector<proto::Command>{proto::Command::kRemoved, proto::Command::kDrain});
  CHECK(queue.empty());
  sent = queue.send(link.sender(), true);  // once only
  CHECK_FALSE(sent.drain);
  CHECK(link.commands.size() == 2);
}

TEST_CASE("the control queue holds at most its bound of REMOVED ids") {
  ControlQueue queue(2);
  CHECK(queue.has_room());
  queue.add_removed(id_of(1));
  CHECK(queue.has_room());
  queue.add_removed(id_of(2));
  CHECK_FALSE(queue.has_room());
  FakeLink link;
  link.room = 1;
  (void)queue.send(link.sender(), true);
  CHECK(queue.has_room());  // sent: room again
  CHECK(ControlQueue().has_room());
}

TEST_CASE("a control message the link cannot send at all is dropped, not retried") {
  ControlQueue queue;
  queue.add_removed(id_of(1));
  queue.owe_drain();
  FakeLink link;
  link.broken = true;
  ControlQueue::Sent sent = queue.send(link.sender(), true);
  CHECK_FALSE(sent.full);
  CHECK(sent.dropped_ids == 1);
  CHECK(sent.drain_dropped);
  CHECK(sent.error.code() == ErrorCode::kShuttingDown);
  CHECK(queue.empty());
}
