#include "events/postgres/pg_outbox_relay.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "storage/postgres/pg_outbox.h"
#include "storage/postgres/pg_test_util.h"
#include "storage/postgres/pg_transaction.h"

namespace shopd::events::postgres {
namespace {

using storage::postgres::OutboxEvent;
using storage::postgres::PgConnection;
using storage::postgres::test_util::FreshDatabase;

template <class T>
T Await(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  return shopd::testing::AwaitOn(io, std::move(task));
}

boost::asio::awaitable<core::Result<void>> WriteThenMaybeFail(PgConnection& conn, std::chrono::milliseconds t,
                                                              std::vector<OutboxEvent> events, bool commit) {
  if (auto r = co_await storage::postgres::AppendToOutbox(conn, t, std::move(events)); !r) co_return r.error();
  if (!commit) co_return core::Error::Make(core::Errc::kConflict, "the producer's change failed");
  co_return core::Result<void>{};
}

// Writes `keys` as outbox rows of `topic` in one transaction, committed or not.
core::Result<void> WriteOutbox(storage::postgres::PgPool& pool, const std::string& topic,
                               const std::vector<std::string>& keys, bool commit = true) {
  std::vector<OutboxEvent> events;
  for (const auto& k : keys) events.push_back(OutboxEvent{topic, k, "{\"k\":\"" + k + "\"}", 1});
  const auto t = pool.options().query_timeout;
  storage::postgres::TxBody<void> body = [t, events, commit](PgConnection& conn) {
    return WriteThenMaybeFail(conn, t, events, commit);
  };
  return Await(storage::postgres::InTransaction<void>(pool, std::move(body)));
}

std::vector<std::string> Keys(PgEventLog& log, const std::string& topic) {
  auto events = Await(log.ReadAfter(topic, 0, 1000));
  EXPECT_TRUE(events) << events.error().internal;
  std::vector<std::string> keys;
  if (events)
    for (const Event& e : *events) keys.push_back(e.key);
  return keys;
}

TEST(PgOutboxRelay, MovesCommittedRowsInOrderAndExactlyOnce) {
  FreshDatabase db;
  PgEventLog log(db.pool(), core::SystemClock::Instance());
  PgOutboxRelay relay(db.pool(), log);
  ASSERT_TRUE(WriteOutbox(db.pool(), "order.created", {"a", "b"}));
  ASSERT_FALSE(WriteOutbox(db.pool(), "order.created", {"rolled-back"}, /*commit=*/false));
  ASSERT_TRUE(WriteOutbox(db.pool(), "order.created", {"c"}));
  auto moved = Await(relay.RelayOnce());
  ASSERT_TRUE(moved) << moved.error().internal;
  EXPECT_EQ(*moved, 3u);
  EXPECT_EQ(Keys(log, "order.created"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*Await(relay.Pending()), 0);
  EXPECT_EQ(*Await(relay.RelayOnce()), 0u) << "nothing is published twice";
  EXPECT_EQ(Keys(log, "order.created").size(), 3u);
}

TEST(PgOutboxRelay, BatchesAreBounded) {
  FreshDatabase db;
  PgEventLog log(db.pool(), core::SystemClock::Instance());
  PgOutboxRelay relay(db.pool(), log, OutboxRelayOptions{.batch_size = 2});
  ASSERT_TRUE(WriteOutbox(db.pool(), "t", {"1", "2", "3"}));
  EXPECT_EQ(*Await(relay.RelayOnce()), 2u);
  EXPECT_EQ(*Await(relay.Pending()), 1);
  EXPECT_EQ(*Await(relay.RelayOnce()), 1u);
  EXPECT_EQ(Keys(log, "t"), (std::vector<std::string>{"1", "2", "3"}));
}

// Three relays (three replicas) run while producers write: every row is
// published exactly once, and each producer's rows keep their order.
TEST(PgOutboxRelay, ConcurrentRelaysPublishEveryRowOnce) {
  FreshDatabase db;
  PgEventLog log(db.pool(), core::SystemClock::Instance());
  std::vector<std::unique_ptr<PgOutboxRelay>> relays;
  for (int i = 0; i < 3; ++i)
    relays.push_back(std::make_unique<PgOutboxRelay>(db.pool(), log, OutboxRelayOptions{.batch_size = 7}));
  constexpr int kProducers = 2, kRowsEach = 150;
  std::atomic<bool> writing{true};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kRowsEach; ++i) {
        const std::string key = std::to_string(p) + "-" + std::to_string(i);
        EXPECT_TRUE(WriteOutbox(db.pool(), "t", {key}));
      }
    });
  std::vector<std::thread> relaying;
  for (auto& relay : relays)
    relaying.emplace_back([&, r = relay.get()] {
      while (writing.load()) {
        auto moved = Await(r->RelayOnce());
        EXPECT_TRUE(moved) << moved.error().internal;
      }
      while (*Await(r->RelayOnce()) > 0) {
      }
    });
  for (auto& t : producers) t.join();
  writing = false;
  for (auto& t : relaying) t.join();

  auto events = Await(log.ReadAfter("t", 0, 1000));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), static_cast<size_t>(kProducers * kRowsEach));
  std::set<std::string> seen;
  std::vector<int> next(kProducers, 0);
  for (const Event& e : *events) {
    EXPECT_TRUE(seen.insert(e.key).second) << "published twice: " << e.key;
    const int producer = e.key[0] - '0';
    EXPECT_EQ(e.key, std::to_string(producer) + "-" + std::to_string(next[producer]++)) << "out of order";
  }
}

}  // namespace
}  // namespace shopd::events::postgres
