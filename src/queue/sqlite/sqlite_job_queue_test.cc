#include "queue/sqlite/sqlite_job_queue.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "queue/job_queue_contract_test.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_test_util.h"

namespace shopd::queue::sqlite {
namespace {

namespace fs = std::filesystem;
using storage::sqlite::Connection;
using storage::sqlite::SqliteDatabase;
using storage::sqlite::Transaction;

using storage::sqlite::test_util::OpenOrDie;
using storage::sqlite::test_util::TempDir;

// Members are destroyed in reverse: the queue, the writer, the pool
// (draining its tasks), the database, the files. With `group_commit`, writes
// go through a SqliteWriter, as in the product.
class SqliteHarness final : public contract::JobQueueHarness {
 public:
  SqliteHarness(core::ManualClock& clock, const JobQueueOptions& options, bool group_commit)
      : clock_(clock), options_(options), group_commit_(group_commit) {
    Restart();
  }
  JobQueue& queue() override { return *queue_; }
  void Restart() override {
    queue_.reset();
    writer_.reset();
    db_.reset();
    db_ = OpenOrDie(dir_.path());
    queue_ = std::make_unique<SqliteJobQueue>(*db_, pool_, clock_, options_);
    if (group_commit_) {
      writer_ = std::make_unique<storage::sqlite::SqliteWriter>(*db_);
      queue_->UseWriter(writer_.get());
    }
  }
  SqliteJobQueue& sqlite_queue() { return *queue_; }
  SqliteDatabase& db() { return *db_; }

 private:
  core::ManualClock& clock_;
  const JobQueueOptions options_;
  const bool group_commit_;
  TempDir dir_;
  exec::WorkerPool pool_{4, 256, "queue-test"};
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<storage::sqlite::SqliteWriter> writer_;
  std::unique_ptr<SqliteJobQueue> queue_;
};

using contract::JobQueueContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, JobQueueContract,
                         ::testing::Values(contract::JobQueueBackend{"Sqlite",
                                                                     [](core::ManualClock& clock, const JobQueueOptions& options) {
                                                                       return std::make_unique<SqliteHarness>(clock, options, false);
                                                                     }},
                                           contract::JobQueueBackend{"SqliteGroupCommit",
                                                                     [](core::ManualClock& clock, const JobQueueOptions& options) {
                                                                       return std::make_unique<SqliteHarness>(clock, options, true);
                                                                     }}),
                         contract::JobQueueBackendName);

// SQLite-only behaviour: the blocking API the CLI uses and enqueueing inside
// another store's transaction.

class SqliteJobQueueTest : public ::testing::Test {
 protected:
  SqliteJobQueueTest() : harness_(clock_, JobQueueOptions{}, false) {}
  SqliteJobQueue& q() { return harness_.sqlite_queue(); }

  core::ManualClock clock_;
  SqliteHarness harness_;
};

TEST_F(SqliteJobQueueTest, SyncApiForTheCli) {
  ASSERT_TRUE(q().EnqueueSync({.queue = "mail", .payload = "m1"}));
  ASSERT_TRUE(q().EnqueueSync({.queue = "orders", .payload = "o1", .max_attempts = 1}));
  auto leased = q().LeaseSync("orders", 10, 1000);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->size(), 1u);
  ASSERT_TRUE(q().FailSync((*leased)[0].id, (*leased)[0].lease_token, "declined"));

  auto all = q().AllStatsSync();
  ASSERT_TRUE(all) << all.error().internal;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].first, "mail");
  EXPECT_EQ((*all)[0].second.ready, 1);
  EXPECT_EQ((*all)[1].first, "orders");
  EXPECT_EQ((*all)[1].second.dead, 1);

  auto dead = q().DeadLettersSync("orders", 10);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].last_error, "declined");
  ASSERT_TRUE(q().RetryDeadSync((*dead)[0].id));
  auto stats = q().StatsSync("orders");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->dead, 0);
  EXPECT_EQ(stats->ready, 1);
}

TEST_F(SqliteJobQueueTest, EnqueueInTransactionCommitsOrRollsBackWithTheCaller) {
  auto r = harness_.db().WithConnection([&](Connection& conn) -> core::Result<void> {
    {
      auto tx = Transaction::BeginImmediate(conn);
      if (!tx) return tx.error();
      auto id = q().EnqueueInTransaction(conn, {.queue = "q", .payload = "rolled-back"});
      if (!id) return id.error();
      // No commit: the destructor rolls back.
    }
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    auto id = q().EnqueueInTransaction(conn, {.queue = "q", .payload = "committed"});
    if (!id) return id.error();
    return tx->Commit();
  });
  ASSERT_TRUE(r) << r.error().internal;
  auto jobs = q().LeaseSync("q", 10, 1000);
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].payload, "committed");

  auto outside = harness_.db().WithConnection(
      [&](Connection& conn) { return q().EnqueueInTransaction(conn, {.queue = "q", .payload = "x"}); });
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, core::Errc::kInternal);
}

TEST_F(SqliteJobQueueTest, JobIdsAreNeverReused) {
  auto first = q().EnqueueSync({.queue = "q", .payload = "a"});
  ASSERT_TRUE(first);
  auto jobs = q().LeaseSync("q", 1, 1000);
  ASSERT_TRUE(jobs);
  ASSERT_TRUE(q().CompleteSync((*jobs)[0].id, (*jobs)[0].lease_token));
  auto second = q().EnqueueSync({.queue = "q", .payload = "b"});
  ASSERT_TRUE(second);
  EXPECT_GT(*second, *first);
}

}  // namespace
}  // namespace shopd::queue::sqlite
