// UnconfirmedHoldings (services/tracker/unconfirmed_holdings.h): what a
// reconnected peer held, until its complete announcement.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/sha256.h"
#include "services/tracker/unconfirmed_holdings.h"

using namespace p2p;
using p2p::tracker::UnconfirmedHoldings;

namespace {

Hash id_of(const std::string& text) { return sha256(text.data(), text.size()); }

}  // namespace

TEST_CASE("unconfirmed holdings returns the files a complete announcement did not confirm") {
  UnconfirmedHoldings u;
  u.start("peer-1", {id_of("a"), id_of("b"), id_of("c")});
  u.confirm("peer-1", id_of("b"));
  u.confirm("peer-1", id_of("x"));  // a file it did not hold before: nothing to confirm
  CHECK(u.waiting("peer-1") == 2);
  std::vector<Hash> left = u.finish("peer-1");
  std::sort(left.begin(), left.end(), [](const Hash& x, const Hash& y) { return x.bytes < y.bytes; });
  std::vector<Hash> want{id_of("a"), id_of("c")};
  std::sort(want.begin(), want.end(), [](const Hash& x, const Hash& y) { return x.bytes < y.bytes; });
  CHECK(left == want);
  CHECK(u.waiting("peer-1") == 0);
  CHECK(u.finish("peer-1").empty());  // once only
}

TEST_CASE("unconfirmed holdings of one peer are not confirmed by another") {
  UnconfirmedHoldings u;
  u.start("peer-1", {id_of("a")});
  u.start("peer-2", {id_of("a")});
  u.confirm("peer-2", id_of("a"));
  CHECK(u.finish("peer-2").empty());
  CHECK(u.finish("peer-1") == std::vector<Hash>{id_of("a")});
}

TEST_CASE("a second reconnect replaces what a peer had unconfirmed") {
  UnconfirmedHoldings u;
  u.start("peer-1", {id_of("a"), id_of("b")});
  u.start("peer-1", {id_of("b")});
  CHECK(u.finish("peer-1") == std::vector<Hash>{id_of("b")});
}

TEST_CASE("a peer that dies or restarts has nothing left unconfirmed") {
  UnconfirmedHoldings u;
  u.start("peer-1", {id_of("a")});
  u.forget("peer-1");
  CHECK(u.finish("peer-1").empty());
}

TEST_CASE("a complete announcement from a peer that did not reconnect drops nothing") {
  UnconfirmedHoldings u;
  CHECK(u.finish("peer-9").empty());
}
