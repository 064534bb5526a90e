#include "events/postgres/pg_event_log.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "events/event_log_contract_test.h"
#include "storage/postgres/pg_test_util.h"

namespace shopd::events::postgres {
namespace {

using namespace std::chrono_literals;
using storage::postgres::PgConnection;
using storage::postgres::test_util::FreshDatabase;

// Members are destroyed in reverse: the log, then the database (its pool, its
// io thread, the database itself). Restart builds a new log over the same
// database, as another process would.
class PostgresHarness final : public contract::EventLogHarness {
 public:
  explicit PostgresHarness(core::ManualClock& clock) : clock_(clock) { Restart(); }
  EventLog& log() override { return *log_; }
  void Restart() override {
    log_.reset();
    log_ = std::make_unique<PgEventLog>(db_.pool(), clock_);
  }

 private:
  core::ManualClock& clock_;
  FreshDatabase db_;
  std::unique_ptr<PgEventLog> log_;
};

using contract::EventLogContract;
INSTANTIATE_TEST_SUITE_P(Postgres, EventLogContract,
                         ::testing::Values(contract::EventLogBackend{"Postgres",
                                                                     [](core::ManualClock& clock) {
                                                                       return std::make_unique<PostgresHarness>(clock);
                                                                     }}),
                         contract::EventLogBackendName);

// PostgreSQL-only behaviour: transactions that commit late (an appender that
// holds its transaction open, as an outbox relay does), batches larger than
// one statement, and text the server would refuse.

class PgEventLogTest : public ::testing::Test {
 protected:
  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(io_, std::move(aw));
  }

  // A connection of the test's own, outside the log's pool, on io_ (so it
  // must be gone before the fixture).
  std::unique_ptr<PgConnection> Connect() {
    auto conn = Await(PgConnection::Connect(io_.get_executor(),
                                            storage::postgres::test_util::Server().ConnInfo(db_.name()), 5s));
    if (!conn) throw std::runtime_error("connect failed: " + conn.error().internal);
    return std::move(*conn);
  }
  void Exec(PgConnection& conn, std::string sql) {
    auto r = Await(storage::postgres::Run(conn, 5s, sql));
    if (!r) throw std::runtime_error(sql + " failed: " + r.error().internal);
  }
  // Opens a transaction on `conn` and appends one event to `topic` in it.
  int64_t AppendInOpenTransaction(PgConnection& conn, std::string topic, std::string payload) {
    Exec(conn, "BEGIN");
    std::vector<EventInput> events{{std::move(topic), "k", std::move(payload), 0}};
    auto offsets = Await(AppendEvents(conn, events, log_.NowMs(), 5s));
    if (!offsets) throw std::runtime_error("append failed: " + offsets.error().internal);
    return offsets->front();
  }
  // How many of this database's sessions wait for a lock.
  int64_t SessionsWaitingForALock() {
    auto r = Await(db_.pool().Query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", {}));
    if (!r) throw std::runtime_error("pg_stat_activity: " + r.error().internal);
    return r->Int64(0, 0);
  }
  std::vector<Event> ReadAfter(std::string topic, int64_t after, size_t max = 100) {
    auto events = Await(log_.ReadAfter(std::move(topic), after, max));
    if (!events) throw std::runtime_error("read after failed: " + events.error().internal);
    return std::move(*events);
  }
  std::vector<Event> Read(std::string topic, std::string group) {
    auto events = Await(log_.Read(std::move(topic), std::move(group), 100));
    if (!events) throw std::runtime_error("read failed: " + events.error().internal);
    return std::move(*events);
  }
  int64_t End(std::string topic) {
    auto end = Await(log_.EndOffset(std::move(topic)));
    if (!end) throw std::runtime_error("end offset failed: " + end.error().internal);
    return *end;
  }
  // Starts log_.Append on `io` and returns its eventual result.
  std::future<core::Result<int64_t>> AppendInBackground(boost::asio::io_context& io, std::string topic,
                                                        std::string payload) {
    auto done = std::make_shared<std::promise<core::Result<int64_t>>>();
    auto result = done->get_future();
    boost::asio::co_spawn(io, log_.Append(std::move(topic), "k", std::move(payload)),
                          [done](std::exception_ptr e, core::Result<int64_t> r) {
                            if (e) {
                              done->set_exception(e);
                            } else {
                              done->set_value(std::move(r));
                            }
                          });
    return result;
  }
  // Even writers append one event to t per round; odd ones a batch of two
  // to t and one to u, every other one listing u last.
  boost::asio::awaitable<core::Result<void>> Write(int writer, int rounds) {
    for (int i = 0; i < rounds; ++i) {
      if (writer % 2 == 0) {
        auto r = co_await log_.Append("t", "k", std::to_string(writer));
        if (!r) co_return r.error();
        continue;
      }
      std::vector<EventInput> batch{{"u", "k", "u", 0}, {"t", "k", "t1", 0}, {"t", "k", "t2", 0}};
      if (writer % 4 == 3) std::swap(batch.front(), batch.back());
      auto r = co_await log_.AppendBatch(std::move(batch));
      if (!r) co_return r.error();
    }
    co_return core::Result<void>{};
  }
  static std::vector<int64_t> Offsets(const std::vector<Event>& events) {
    std::vector<int64_t> out;
    for (const Event& e : events) out.push_back(e.offset);
    return out;
  }
  static std::vector<std::string> Payloads(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const Event& e : events) out.push_back(e.payload);
    return out;
  }

  boost::asio::io_context io_;
  core::ManualClock clock_;
  FreshDatabase db_;
  PgEventLog log_{db_.pool(), clock_};
};

// The trap of sequence-numbered logs: A takes offset 1, B takes 2 and commits
// first, a reader sees 2, moves its position past it, and never reads 1. Here
// B cannot take an offset until A has committed, so a reader never sees an
// offset with a missing one below it.
TEST_F(PgEventLogTest, AConsumerNeverSkipsAnEventThatCommitsLate) {
  shopd::testing::IoThread background;
  auto a = Connect();
  ASSERT_EQ(AppendInOpenTransaction(*a, "t", "A"), 1);

  auto b = AppendInBackground(background.io(), "t", "B");
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return SessionsWaitingForALock() == 1; }))
      << "B waits for A's lock on the topic's head";
  // While A is open, nothing is visible, in particular not B past a missing A.
  EXPECT_EQ(b.wait_for(0s), std::future_status::timeout);
  EXPECT_TRUE(ReadAfter("t", 0).empty());
  EXPECT_TRUE(Read("t", "g").empty());
  EXPECT_EQ(End("t"), 0);

  Exec(*a, "COMMIT");
  auto b_offset = b.get();
  ASSERT_TRUE(b_offset) << b_offset.error().internal;
  EXPECT_EQ(*b_offset, 2) << "B numbers after A's committed offset";
  // A reader that saw nothing resumes at 0 and gets both, in order, no gap.
  auto both = ReadAfter("t", 0);
  EXPECT_EQ(Offsets(both), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Payloads(both), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(Offsets(Read("t", "g")), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(End("t"), 2);
}

// Retention deletes old events in bounded rounds; offsets go on from the head.
TEST_F(PgEventLogTest, TrimDeletesOldEventsAndOffsetsGoOn) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Await(log_.Append("t", "k", "old")));
  const int64_t cutoff = log_.NowMs() + 1;
  EXPECT_EQ(*Await(log_.Trim(cutoff, 3)), 3u);
  EXPECT_EQ(*Await(log_.Trim(cutoff, 3)), 2u);
  EXPECT_EQ(*Await(log_.Trim(cutoff, 3)), 0u);
  EXPECT_EQ(*Await(log_.Append("t", "k", "new")), 6);
}

TEST_F(PgEventLogTest, ARolledBackAppendLeavesNoGap) {
  shopd::testing::IoThread background;
  auto a = Connect();
  ASSERT_EQ(AppendInOpenTransaction(*a, "t", "A"), 1);
  auto b = AppendInBackground(background.io(), "t", "B");
  ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return SessionsWaitingForALock() == 1; }));

  Exec(*a, "ROLLBACK");
  auto b_offset = b.get();
  ASSERT_TRUE(b_offset) << b_offset.error().internal;
  EXPECT_EQ(*b_offset, 1) << "A's offset is given back";
  auto events = ReadAfter("t", 0);
  EXPECT_EQ(Offsets(events), (std::vector<int64_t>{1}));
  EXPECT_EQ(Payloads(events), (std::vector<std::string>{"B"}));
  EXPECT_EQ(End("t"), 1);
}

TEST_F(PgEventLogTest, AnOpenAppendHoldsUpOnlyItsOwnTopic) {
  auto a = Connect();
  ASSERT_EQ(AppendInOpenTransaction(*a, "t", "A"), 1);
  auto other = Await(log_.Append("u", "k", "U"));
  ASSERT_TRUE(other) << other.error().internal;
  EXPECT_EQ(*other, 1);
  EXPECT_EQ(Payloads(ReadAfter("u", 0)), (std::vector<std::string>{"U"}));
  Exec(*a, "COMMIT");
  EXPECT_EQ(Payloads(ReadAfter("t", 0)), (std::vector<std::string>{"A"}));
}

// Many appenders at once, half of them with batches over two topics listed in
// opposite orders (which would deadlock if batches locked topics in input
// order), while a reader tails one topic: every read continues exactly where
// the last one ended.
TEST_F(PgEventLogTest, ATailingReaderSeesDenseOffsetsUnderConcurrentAppends) {
  constexpr int kWriters = 6;
  constexpr int kRounds = 40;
  std::mutex mu;
  std::vector<std::string> errors;
  std::atomic<int> writers_left{kWriters};
  {
    shopd::testing::IoThread background;
    for (int w = 0; w < kWriters; ++w) {
      boost::asio::co_spawn(background.io(), Write(w, kRounds), [&](std::exception_ptr e, core::Result<void> r) {
        std::lock_guard lock(mu);
        if (e) errors.push_back("exception");
        if (!e && !r) errors.push_back(r.error().internal);
        --writers_left;
      });
    }
    const int64_t total = int64_t{kRounds} * (kWriters / 2) * 3;
    int64_t position = 0;
    int reads = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (position < total && std::chrono::steady_clock::now() < deadline) {
      const bool writers_done = writers_left == 0;
      auto events = ReadAfter("t", position, 7);
      ++reads;
      for (const Event& e : events) {
        ASSERT_EQ(e.offset, position + 1) << "after " << reads << " reads";
        position = e.offset;
      }
      if (writers_done && events.empty()) break;  // a writer failed: the errors below say why
    }
    EXPECT_EQ(position, total);
    ASSERT_TRUE(shopd::testing::EventuallyTrue([&] { return writers_left == 0; }));
  }
  std::lock_guard lock(mu);
  ASSERT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(End("u"), int64_t{kRounds} * (kWriters / 2));
  EXPECT_EQ(ReadAfter("u", 0, 1000).size(), static_cast<size_t>(End("u")));
}

// A batch whose text exceeds one statement's share (32 MiB) takes several
// statements in one transaction: still all or nothing.
TEST_F(PgEventLogTest, ABatchLargerThanOneStatementIsStillAllOrNothing) {
  const std::string mib(size_t{1} << 20, 'x');
  std::vector<EventInput> batch;
  for (int i = 0; i < 40; ++i) batch.push_back({"big", "k" + std::to_string(i), mib, 0});
  batch.push_back({"small", "last", "s", 0});
  // A row in the way of the last event's offset, so the last statement fails.
  ASSERT_TRUE(Await(db_.pool().Query(
      "INSERT INTO events (topic, event_offset, key, payload, created_ms) VALUES ('small', 1, 'k', 'p', 0)", {})));
  auto failed = Await(log_.AppendBatch(batch));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, core::Errc::kConflict) << failed.error().internal;
  EXPECT_EQ(End("big"), 0) << "the earlier statements are rolled back with it";
  EXPECT_TRUE(ReadAfter("big", 0, 1).empty());

  ASSERT_TRUE(Await(db_.pool().Query("DELETE FROM events WHERE topic = 'small'", {})));
  auto offsets = Await(log_.AppendBatch(batch));
  ASSERT_TRUE(offsets) << offsets.error().internal;
  ASSERT_EQ(offsets->size(), batch.size());
  for (int i = 0; i < 40; ++i) EXPECT_EQ((*offsets)[i], i + 1);
  EXPECT_EQ(offsets->back(), 1);
  EXPECT_EQ(End("big"), 40);
  auto last = ReadAfter("big", 39, 10);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].key, "k39");
  EXPECT_EQ(last[0].payload.size(), mib.size());
}

TEST_F(PgEventLogTest, TextThePostgresServerCannotStoreIsRejected) {
  const std::string nul("a\0b", 3);
  for (const std::string& bad : {std::string("\xff"), nul, std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    for (auto r : {Await(log_.Append(bad, "k", "p")), Await(log_.Append("t", bad, "p")),
                   Await(log_.Append("t", "k", bad))}) {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, core::Errc::kInvalidArgument);
    }
    auto read = Await(log_.Read("t", bad, 10));
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().code, core::Errc::kInvalidArgument);
  }
  EXPECT_EQ(End("t"), 0);
  const std::string unicode = "\xc3\xbc \xe2\x9c\x93 \xf0\x9f\x8e\x89 \"quoted\" \\ {braces} NULL";
  auto offset = Await(log_.Append(unicode, unicode, unicode));
  ASSERT_TRUE(offset) << offset.error().internal;
  auto events = ReadAfter(unicode, 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key, unicode);
  EXPECT_EQ(events[0].payload, unicode);
}

}  // namespace
}  // namespace shopd::events::postgres
