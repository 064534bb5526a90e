#include "storage/sqlite/sqlite_change_watcher.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "storage/sqlite/sqlite_test_util.h"

namespace shopd::storage::sqlite {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Waits (bounded) for `pred`; the bound only matters when the code is broken.
template <typename Pred>
bool Eventually(Pred pred) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

class SqliteChangeWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test_util::OpenOrDie(dir_.path());
    ASSERT_TRUE(db_->WithConnection([](Connection& c) { return c.Exec("CREATE TABLE t (v INTEGER)"); }));
    watcher_.emplace(io_.get_executor(), db_->path(), [this] { ++calls_; }, gap_);
    ASSERT_TRUE(watcher_->Start());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (watcher_) asio::co_spawn(io_, watcher_->Stop(), asio::use_future).get();
    guard_.reset();
    thread_.join();
  }
  void Write() {
    ASSERT_TRUE(db_->WithConnection([](Connection& c) { return c.Exec("INSERT INTO t VALUES (1)"); }));
  }
  // Quiet: no call for a while (the 1 ms gap plus scheduling).
  uint64_t Settled() {
    uint64_t seen = calls_;
    for (;;) {
      std::this_thread::sleep_for(100ms);
      if (calls_ == seen) return seen;
      seen = calls_;
    }
  }

  std::chrono::milliseconds gap_ = 1ms;
  testing::TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::atomic<uint64_t> calls_{0};
  std::optional<SqliteChangeWatcher> watcher_;
  std::thread thread_;
};

TEST_F(SqliteChangeWatcherTest, ACommitFromAnyConnectionWakes) {
  const uint64_t before = Settled();
  Write();
  EXPECT_TRUE(Eventually([&] { return calls_ > before; }));
  EXPECT_EQ(watcher_->wakes(), calls_.load());
}

TEST_F(SqliteChangeWatcherTest, ReadsAndOtherFilesDoNotWake) {
  Write();
  const uint64_t before = Settled();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(db_->WithConnection([](Connection& c) -> core::Result<void> {
      auto st = c.Prepare("SELECT count(*) FROM t");
      if (!st) return st.error();
      auto row = st->Step();
      if (!row) return row.error();
      return {};
    }));
  }
  std::ofstream(dir_.path() + "/unrelated.txt") << "not the database";
  EXPECT_EQ(Settled(), before);
}

// A watcher whose gap outlasts the test: after the first wake it looks again only then.
class CoalescingWatcherTest : public SqliteChangeWatcherTest {
 protected:
  CoalescingWatcherTest() { gap_ = 60s; }
};

TEST_F(CoalescingWatcherTest, CommitsDuringTheGapDoNotWakeAgain) {
  Write();
  ASSERT_TRUE(Eventually([&] { return calls_ == 1; }));
  for (int i = 0; i < 50; ++i) Write();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(calls_.load(), 1u);
  // Stop does not wait for the gap to end (TearDown would hang otherwise).
}

TEST_F(SqliteChangeWatcherTest, NoCallAfterStop) {
  asio::co_spawn(io_, watcher_->Stop(), asio::use_future).get();
  const uint64_t after_stop = calls_;
  Write();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(calls_.load(), after_stop);
  // Stop is idempotent.
  asio::co_spawn(io_, watcher_->Stop(), asio::use_future).get();
}

TEST(SqliteChangeWatcherStart, AMissingDirectoryIsAnErrorNotACrash) {
  asio::io_context io;
  SqliteChangeWatcher w(io.get_executor(), "/nonexistent-shopd-dir/shop.db", [] {}, 1ms);
  auto started = w.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, core::Errc::kUnavailable);
}

}  // namespace
}  // namespace shopd::storage::sqlite
