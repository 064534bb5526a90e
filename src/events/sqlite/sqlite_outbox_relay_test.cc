#include "events/sqlite/sqlite_outbox_relay.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "events/sqlite/sqlite_event_log.h"
#include "events/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_outbox.h"

namespace shopd::events::sqlite {
namespace {

using test_util::EventuallyTrue;
using test_util::IoThread;
using storage::sqlite::AppendToOutbox;
using storage::sqlite::Connection;
using storage::sqlite::SqliteDatabase;
using storage::sqlite::Transaction;
using test_util::OpenOrDie;
using test_util::TempDir;

struct Row {
  std::string topic;
  std::string key;
  std::string payload;
};

// Writes `rows` to the outbox in one transaction, committed or rolled back.
core::Result<void> WriteOutbox(SqliteDatabase& db, const std::vector<Row>& rows, bool commit, int64_t now_ms = 1) {
  return db.WithConnection([&](Connection& conn) -> core::Result<void> {
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    for (const Row& r : rows) {
      if (auto a = AppendToOutbox(conn, r.topic, r.key, r.payload, now_ms); !a) return a.error();
    }
    if (!commit) return {};  // the destructor rolls back
    return tx->Commit();
  });
}

std::vector<std::string> Payloads(SqliteEventLog& log, const std::string& topic) {
  auto events = log.ReadSync(topic, "test-reader", 1000);
  if (!events) throw std::runtime_error(events.error().internal);
  std::vector<std::string> out;
  for (const Event& e : *events) out.push_back(e.payload);
  return out;
}

// An EventLog in front of another that fails the first `failures` batches.
class FlakyLog final : public EventLog {
 public:
  FlakyLog(EventLog& inner, int failures) : inner_(inner), failures_(failures) {}
  Async<int64_t> Append(std::string topic, std::string key, std::string payload) override {
    return inner_.Append(std::move(topic), std::move(key), std::move(payload));
  }
  Async<std::vector<int64_t>> AppendBatch(std::vector<EventInput> events) override {
    if (failures_-- > 0) return Unavailable();
    return inner_.AppendBatch(std::move(events));
  }
  Async<std::vector<Event>> Read(std::string topic, std::string group, size_t max_events) override {
    return inner_.Read(std::move(topic), std::move(group), max_events);
  }
  Async<std::vector<Event>> ReadAfter(std::string topic, int64_t after_offset, size_t max_events) override {
    return inner_.ReadAfter(std::move(topic), after_offset, max_events);
  }
  Async<void> Commit(std::string topic, std::string group, int64_t offset) override {
    return inner_.Commit(std::move(topic), std::move(group), offset);
  }
  Async<int64_t> EndOffset(std::string topic) override { return inner_.EndOffset(std::move(topic)); }
  Async<int64_t> CommittedOffset(std::string topic, std::string group) override {
    return inner_.CommittedOffset(std::move(topic), std::move(group));
  }

 private:
  static Async<std::vector<int64_t>> Unavailable() {
    co_return core::Error::Make(core::Errc::kUnavailable, "broker unavailable");
  }
  EventLog& inner_;
  std::atomic<int> failures_;
};

class SqliteOutboxRelayTest : public ::testing::Test {
 protected:
  SqliteOutboxRelayTest() : db_(OpenOrDie(dir_.path())), log_(*db_, pool_, clock_) {}

  // Drives one awaitable to completion on this thread, on an io_context that
  // outlives the pool (a pool thread may still be inside its final post).
  template <class T>
  T Await(boost::asio::awaitable<T> aw) {
    return shopd::testing::AwaitOn(await_io_, std::move(aw));
  }

  size_t RelayOnce(OutboxRelay& relay) {
    auto n = Await(relay.RelayOnce());
    if (!n) throw std::runtime_error("relay failed: " + n.error().internal);
    return *n;
  }

  boost::asio::io_context await_io_;
  std::unique_ptr<IoThread> background_ = std::make_unique<IoThread>();
  core::ManualClock clock_;
  TempDir dir_;
  exec::WorkerPool pool_{4, 256, "outbox-test"};
  std::unique_ptr<SqliteDatabase> db_;
  SqliteEventLog log_;
};

TEST_F(SqliteOutboxRelayTest, OnlyCommittedRowsAreRelayedInOrderExactlyOnce) {
  ASSERT_TRUE(WriteOutbox(*db_, {{"order.created", "o0", "rolled-back"}, {"order.created", "o0", "also"}}, false));
  ASSERT_TRUE(WriteOutbox(*db_,
                          {{"order.created", "o1", "created-1"},
                           {"order.confirmed", "o1", "confirmed-1"},
                           {"order.created", "o2", "created-2"}},
                          true, /*now_ms=*/777));
  SqliteOutboxRelay relay(*db_, pool_, log_);
  ASSERT_TRUE(relay.same_database());
  EXPECT_EQ(*relay.PendingSync(), 3);

  EXPECT_EQ(RelayOnce(relay), 3u);
  EXPECT_EQ(RelayOnce(relay), 0u) << "a second run finds nothing";
  EXPECT_EQ(*relay.PendingSync(), 0);
  {
    SqliteOutboxRelay restarted(*db_, pool_, log_);
    EXPECT_EQ(RelayOnce(restarted), 0u) << "nor does a restarted relay";
  }

  EXPECT_EQ(Payloads(log_, "order.created"), (std::vector<std::string>{"created-1", "created-2"}));
  EXPECT_EQ(Payloads(log_, "order.confirmed"), (std::vector<std::string>{"confirmed-1"}));
  auto events = log_.ReadSync("order.created", "g", 10);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[0].key, "o1");
  EXPECT_EQ((*events)[0].offset, 1);
  EXPECT_EQ((*events)[0].created_ms, 777) << "the time of the producer's transaction";
  EXPECT_EQ((*events)[1].key, "o2");
}

TEST_F(SqliteOutboxRelayTest, WithTheLogsWriterBatchesMoveInsideTheGroupCommit) {
  storage::sqlite::SqliteWriter writer(*db_);
  log_.UseWriter(&writer);
  ASSERT_TRUE(WriteOutbox(*db_, {{"order.created", "o1", "created-1"}, {"order.created", "o2", "created-2"}}, true));
  SqliteOutboxRelay relay(*db_, pool_, log_);
  const uint64_t writes_before = writer.writes();
  EXPECT_EQ(RelayOnce(relay), 2u);
  EXPECT_EQ(RelayOnce(relay), 0u);
  EXPECT_EQ(writer.writes(), writes_before + 2) << "both passes ran on the writer";
  EXPECT_EQ(*relay.PendingSync(), 0);
  EXPECT_EQ(Payloads(log_, "order.created"), (std::vector<std::string>{"created-1", "created-2"}));
  log_.UseWriter(nullptr);
}

TEST_F(SqliteOutboxRelayTest, AppendToOutboxNeedsAnOpenTransaction) {
  auto r = db_->WithConnection(
      [](Connection& conn) { return AppendToOutbox(conn, "order.created", "o1", "p", 1); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kInternal);
  auto bad_topic = db_->WithConnection([](Connection& conn) -> core::Result<void> {
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    return AppendToOutbox(conn, "", "o1", "p", 1);
  });
  ASSERT_FALSE(bad_topic);
  EXPECT_EQ(bad_topic.error().code, core::Errc::kInvalidArgument);
}

TEST_F(SqliteOutboxRelayTest, BatchesAreBoundedAndKeepTheOrder) {
  std::vector<Row> rows;
  for (int i = 0; i < 7; ++i) rows.push_back({"t", "k", std::to_string(i)});
  ASSERT_TRUE(WriteOutbox(*db_, rows, true));
  SqliteOutboxRelay relay(*db_, pool_, log_, {.batch_size = 3});
  EXPECT_EQ(RelayOnce(relay), 3u);
  EXPECT_EQ(RelayOnce(relay), 3u);
  EXPECT_EQ(RelayOnce(relay), 1u);
  EXPECT_EQ(RelayOnce(relay), 0u);
  EXPECT_EQ(Payloads(log_, "t"), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6"}));
}

TEST_F(SqliteOutboxRelayTest, RacingRelaysInTwoProcessesPublishEveryRowOnceInCommitOrder) {
  // A second SqliteDatabase on the same file stands for a second process.
  auto other_db = OpenOrDie(dir_.path());
  SqliteEventLog other_log(*other_db, pool_, clock_);
  SqliteOutboxRelay relay_a(*db_, pool_, log_, {.batch_size = 4});
  SqliteOutboxRelay relay_b(*other_db, pool_, other_log, {.batch_size = 4});

  constexpr int kTransactions = 40;
  constexpr int kRowsPerTransaction = 5;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int t = 0; t < kTransactions; ++t) {
      std::vector<Row> rows;
      for (int i = 0; i < kRowsPerTransaction; ++i) rows.push_back({"t", "k", std::to_string(t * kRowsPerTransaction + i)});
      if (!WriteOutbox(*db_, rows, true)) std::abort();
    }
    writing = false;
  });

  boost::asio::io_context& io = await_io_;
  io.restart();
  std::atomic<int> errors{0};
  auto drain = [&](OutboxRelay& relay) -> boost::asio::awaitable<void> {
    for (;;) {
      const bool done_writing = !writing.load();
      auto n = co_await relay.RelayOnce();
      if (!n) {
        ++errors;
        co_return;
      }
      if (*n == 0 && done_writing) co_return;
    }
  };
  boost::asio::co_spawn(io, drain(relay_a), boost::asio::detached);
  boost::asio::co_spawn(io, drain(relay_b), boost::asio::detached);
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  writer.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(*relay_a.PendingSync(), 0);
  std::vector<std::string> expected;
  for (int i = 0; i < kTransactions * kRowsPerTransaction; ++i) expected.push_back(std::to_string(i));
  EXPECT_EQ(Payloads(log_, "t"), expected);
}

TEST_F(SqliteOutboxRelayTest, AForeignLogIsAppendedThenDeleted) {
  TempDir other_dir;
  auto other_db = OpenOrDie(other_dir.path());
  SqliteEventLog foreign(*other_db, pool_, clock_);
  SqliteOutboxRelay relay(*db_, pool_, foreign, {.batch_size = 2});
  ASSERT_FALSE(relay.same_database());

  ASSERT_TRUE(WriteOutbox(*db_, {{"t", "k", "a"}, {"t", "k", "b"}, {"t", "k", "c"}}, true, 555));
  EXPECT_EQ(RelayOnce(relay), 2u);
  EXPECT_EQ(RelayOnce(relay), 1u);
  EXPECT_EQ(RelayOnce(relay), 0u);
  EXPECT_EQ(*relay.PendingSync(), 0);
  EXPECT_EQ(Payloads(foreign, "t"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*log_.EndOffsetSync("t"), 0) << "nothing went to the local log";
  auto events = foreign.ReadSync("t", "g", 10);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[0].created_ms, 555);
}

TEST_F(SqliteOutboxRelayTest, AFailedAppendKeepsTheRowsForTheNextPass) {
  TempDir other_dir;
  auto other_db = OpenOrDie(other_dir.path());
  SqliteEventLog target(*other_db, pool_, clock_);
  FlakyLog flaky(target, /*failures=*/1);
  SqliteOutboxRelay relay(*db_, pool_, flaky);
  ASSERT_TRUE(WriteOutbox(*db_, {{"t", "k", "a"}, {"t", "k", "b"}}, true));

  auto failed = Await(relay.RelayOnce());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, core::Errc::kUnavailable);
  EXPECT_EQ(*relay.PendingSync(), 2);
  EXPECT_EQ(RelayOnce(relay), 2u);
  EXPECT_EQ(Payloads(target, "t"), (std::vector<std::string>{"a", "b"}));
}

TEST_F(SqliteOutboxRelayTest, TheLoopRelaysOnNotifyAndStops) {
  IoThread& io = *background_;
  std::atomic<int> relayed_calls{0};
  SqliteOutboxRelay relay(*db_, pool_, log_,
                          {.poll_interval_ms = 60'000, .on_relayed = [&] { ++relayed_calls; }});
  relay.Start(io.io().get_executor());

  ASSERT_TRUE(WriteOutbox(*db_, {{"t", "k", "a"}, {"t", "k", "b"}}, true));
  relay.Notify();  // the poll interval is a minute: only Notify can explain a prompt relay
  ASSERT_TRUE(EventuallyTrue([&] { return *log_.EndOffsetSync("t") == 2; }));
  // The loop counts the batch once RelayOnce has returned to it.
  ASSERT_TRUE(EventuallyTrue([&] { return relay.relayed() == 2 && relayed_calls.load() >= 1; }));

  io.Run(relay.Stop());
  ASSERT_TRUE(WriteOutbox(*db_, {{"t", "k", "c"}}, true));
  relay.Notify();
  EXPECT_EQ(*relay.PendingSync(), 1) << "a stopped relay moves nothing";
  EXPECT_EQ(*log_.EndOffsetSync("t"), 2);
}

}  // namespace
}  // namespace shopd::events::sqlite
