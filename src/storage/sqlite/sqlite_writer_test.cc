#include "storage/sqlite/sqlite_writer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <filesystem>

namespace shopd::storage::sqlite {
namespace {

namespace asio = boost::asio;

class SqliteWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shopd-writer-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    db_ = std::move(*SqliteDatabase::Open({.data_dir = dir_}));
    ASSERT_TRUE(db_->WithConnection([](Connection& c) { return c.Exec("CREATE TABLE t (v INTEGER UNIQUE)"); }));
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  int64_t Count() {
    return *db_->WithConnection([](Connection& c) -> core::Result<int64_t> {
      auto st = c.Prepare("SELECT count(*) FROM t");
      if (!st) return st.error();
      (void)st->Step();
      return st->ColumnInt64(0);
    });
  }
  static core::Result<int64_t> Insert(Connection& c, int64_t v) {
    auto st = c.Prepare("INSERT INTO t (v) VALUES (?)");
    if (!st) return st.error();
    st->Bind(1, v);
    if (auto r = st->Run(); !r) return r.error();
    return v;
  }

  std::string dir_;
  std::unique_ptr<SqliteDatabase> db_;
};

TEST_F(SqliteWriterTest, CommitsManyWritesTogetherAndIsolatesFailures) {
  SqliteWriter writer(*db_);
  asio::io_context io;
  int ok = 0, conflicts = 0;
  for (int i = 0; i < 200; ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      // Every value twice: exactly one of each pair can win.
      auto r = co_await writer.Run([i](Connection& c) { return Insert(c, i / 2); });
      if (r) ++ok;
      else if (r.error().code == core::Errc::kConflict) ++conflicts;
    }, asio::detached);
  }
  io.run();
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(conflicts, 100);
  EXPECT_EQ(Count(), 100);
  EXPECT_EQ(writer.writes(), 200u);
  EXPECT_LT(writer.commits(), 200u);  // grouped
}

TEST_F(SqliteWriterTest, AnErrorResultRollsBackOnlyItsOwnChanges) {
  SqliteWriter writer(*db_);
  asio::io_context io;
  core::Result<int64_t> failed = 0, good = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    failed = co_await writer.Run([](Connection& c) -> core::Result<int64_t> {
      if (auto r = Insert(c, 1); !r) return r.error();
      return core::Error::Make(core::Errc::kUnprocessable, "changed my mind");
    });
    good = co_await writer.Run([](Connection& c) { return Insert(c, 2); });
  }, asio::detached);
  io.run();
  EXPECT_FALSE(failed);
  EXPECT_TRUE(good);
  EXPECT_EQ(Count(), 1);
}

TEST_F(SqliteWriterTest, CodeWithItsOwnTransactionJoinsTheBatch) {
  SqliteWriter writer(*db_);
  asio::io_context io;
  core::Result<int64_t> r = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    r = co_await writer.Run([this](Connection&) {
      // Written for standalone use: WithConnection + BEGIN IMMEDIATE. Inside
      // the writer it gets the batch connection and a savepoint.
      return db_->WithConnection([](Connection& c) -> core::Result<int64_t> {
        auto tx = Transaction::BeginImmediate(c);
        if (!tx) return tx.error();
        auto v = Insert(c, 7);
        if (!v) return v.error();
        if (auto cr = tx->Commit(); !cr) return cr.error();
        return v;
      });
    });
  }, asio::detached);
  io.run();
  ASSERT_TRUE(r) << r.error().internal;
  EXPECT_EQ(Count(), 1);
}

TEST_F(SqliteWriterTest, ShutdownFinishesAcceptedWritesThenRefuses) {
  auto writer = std::make_unique<SqliteWriter>(*db_);
  asio::io_context io;
  int done = 0;
  for (int i = 0; i < 50; ++i)
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      if (co_await writer->Run([i](Connection& c) { return Insert(c, i); })) ++done;
    }, asio::detached);
  io.poll();  // all 50 submitted
  writer->Shutdown();
  io.run();
  EXPECT_EQ(done, 50);
  core::Result<int64_t> late = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    late = co_await writer->Run([](Connection& c) { return Insert(c, 999); });
  }, asio::detached);
  io.restart();
  io.run();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, core::Errc::kUnavailable);
}

}  // namespace
}  // namespace shopd::storage::sqlite
