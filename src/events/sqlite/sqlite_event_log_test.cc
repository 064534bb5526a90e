#include "events/sqlite/sqlite_event_log.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "events/event_log_contract_test.h"
#include "events/sqlite/sqlite_test_util.h"

namespace shopd::events::sqlite {
namespace {

using test_util::OpenOrDie;
using test_util::TempDir;

// Members are destroyed in reverse: the log, the writer, the pool (draining
// its tasks), the database, the files. With `group_commit`, writes go through
// a SqliteWriter, as in the product.
class SqliteHarness final : public contract::EventLogHarness {
 public:
  SqliteHarness(core::ManualClock& clock, bool group_commit) : clock_(clock), group_commit_(group_commit) {
    Restart();
  }
  EventLog& log() override { return *log_; }
  void Restart() override {
    log_.reset();
    writer_.reset();
    db_.reset();
    db_ = OpenOrDie(dir_.path());
    log_ = std::make_unique<SqliteEventLog>(*db_, pool_, clock_);
    if (group_commit_) {
      writer_ = std::make_unique<storage::sqlite::SqliteWriter>(*db_);
      log_->UseWriter(writer_.get());
    }
  }

 private:
  core::ManualClock& clock_;
  const bool group_commit_;
  TempDir dir_;
  exec::WorkerPool pool_{4, 256, "events-test"};
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_;
  std::unique_ptr<storage::sqlite::SqliteWriter> writer_;
  std::unique_ptr<SqliteEventLog> log_;
};

using contract::EventLogContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, EventLogContract,
                         ::testing::Values(contract::EventLogBackend{"Sqlite",
                                                                     [](core::ManualClock& clock) {
                                                                       return std::make_unique<SqliteHarness>(clock, false);
                                                                     }},
                                           contract::EventLogBackend{"SqliteGroupCommit",
                                                                     [](core::ManualClock& clock) {
                                                                       return std::make_unique<SqliteHarness>(clock, true);
                                                                     }}),
                         contract::EventLogBackendName);

// SQLite-only: retention.

class SqliteEventLogTest : public ::testing::Test {
 protected:
  SqliteEventLogTest() : db_(OpenOrDie(dir_.path())), log_(*db_, pool_, clock_) {}

  core::ManualClock clock_;
  TempDir dir_;
  exec::WorkerPool pool_{2, 64, "events-test"};
  std::unique_ptr<storage::sqlite::SqliteDatabase> db_;
  SqliteEventLog log_;
};

TEST_F(SqliteEventLogTest, TrimDeletesOldEventsButKeepsEachTopicsLastOffset) {
  std::vector<EventInput> old_events;
  for (int i = 0; i < 5; ++i) old_events.push_back({"a", "k", "old", 1000});
  old_events.push_back({"b", "k", "old", 1000});
  ASSERT_TRUE(log_.AppendBatchSync(old_events));
  ASSERT_TRUE(log_.AppendBatchSync({{"a", "k", "new", 5000}}));

  auto bounded = log_.TrimSync(/*created_before_ms=*/2000, /*max_rows=*/2);
  ASSERT_TRUE(bounded) << bounded.error().internal;
  EXPECT_EQ(*bounded, 2u);
  auto rest = log_.TrimSync(2000, 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, 3u) << "a's three remaining old events; b's only event stays";

  auto a = log_.ReadSync("a", "g", 100);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].offset, 6);
  auto b_end = log_.EndOffsetSync("b");
  ASSERT_TRUE(b_end);
  EXPECT_EQ(*b_end, 1);
  // Offsets continue where they were, never from 1 again.
  auto next = log_.AppendBatchSync({{"b", "k", "after trim", 0}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->front(), 2);
}

}  // namespace
}  // namespace shopd::events::sqlite
