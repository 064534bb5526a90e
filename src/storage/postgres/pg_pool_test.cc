#include "storage/postgres/pg_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <vector>

#include "storage/postgres/pg_migrations.h"
#include "storage/postgres/pg_test_util.h"

namespace shopd::storage::postgres {
namespace {

using namespace std::chrono_literals;

template <class T>
T Await(boost::asio::awaitable<T> aw) {
  boost::asio::io_context io;
  return shopd::testing::AwaitOn(io, std::move(aw));
}

TEST(PgPool, RunsStatementsWithParametersAndNulls) {
  test_util::FreshDatabase db;
  auto r = Await(db.pool().Query("SELECT $1::text || '!', $2::bigint * 2, $3::text IS NULL", {"hi", "21", std::nullopt}));
  ASSERT_TRUE(r) << r.error().internal;
  EXPECT_EQ(r->rows(), 1);
  EXPECT_EQ(r->Text(0, 0), "hi!");
  EXPECT_EQ(r->Int64(0, 1), 42);
  EXPECT_TRUE(r->Bool(0, 2));
}

TEST(PgPool, MapsUniqueViolationsAndSyntaxErrors) {
  test_util::FreshDatabase db;
  ASSERT_TRUE(Await(db.pool().Query("CREATE TABLE t (k TEXT PRIMARY KEY)", {})));
  ASSERT_TRUE(Await(db.pool().Query("INSERT INTO t VALUES ($1)", {"a"})));
  auto dup = Await(db.pool().Query("INSERT INTO t VALUES ($1)", {"a"}));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::Errc::kConflict) << dup.error().internal;
  auto bad = Await(db.pool().Query("SELEC nonsense", {}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::Errc::kInternal);
  EXPECT_NE(bad.error().internal.find("42601"), std::string::npos) << bad.error().internal;
  // The connection that failed a statement is still fine.
  EXPECT_TRUE(Await(db.pool().Query("SELECT 1", {})));
}

// Statements with parameters are prepared once per connection: one whose
// table changed under it fails once on a connection and is prepared afresh,
// and one that failed to parse is never taken for prepared.
TEST(PgPool, PreparedStatementsFollowSchemaChangesAndParseErrors) {
  test_util::FreshDatabase db;
  ASSERT_TRUE(Await(db.pool().Query("CREATE TABLE t (k TEXT PRIMARY KEY)", {})));
  ASSERT_TRUE(Await(db.pool().Query("INSERT INTO t VALUES ($1)", {"a"})));
  const char* select_all = "SELECT * FROM t WHERE k = $1";
  auto before = Await(db.pool().Query(select_all, {"a"}));
  ASSERT_TRUE(before) << before.error().internal;
  ASSERT_TRUE(Await(db.pool().Query("ALTER TABLE t ADD COLUMN v INT DEFAULT 7", {})));
  int failures = 0;
  std::optional<PgResult> after;
  for (int attempt = 0; attempt < 64 && !after; ++attempt) {
    auto r = Await(db.pool().Query(select_all, {"a"}));
    if (r) {
      after.emplace(std::move(*r));
      break;
    }
    ++failures;
    EXPECT_NE(r.error().internal.find("0A000"), std::string::npos) << r.error().internal;
  }
  ASSERT_TRUE(after) << "the statement kept failing after the table changed";
  EXPECT_LE(failures, 1) << "one connection at a time: at most its one stale statement fails";
  EXPECT_EQ(after->Int64(0, 1), 7);
  for (int i = 0; i < 2; ++i) {
    auto bad = Await(db.pool().Query("SELEC $1", {"x"}));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().internal.find("42601"), std::string::npos) << bad.error().internal;
  }
  EXPECT_TRUE(Await(db.pool().Query(select_all, {"a"})));
}

TEST(PgPool, AQueryPastItsDeadlineIsUnavailableAndItsConnectionIsDropped) {
  test_util::FreshDatabase db(PgPoolOptions{.conninfo = "", .max_connections = 1, .query_timeout = 100ms});
  const auto started = std::chrono::steady_clock::now();
  auto slow = Await(db.pool().Query("SELECT pg_sleep(5)", {}));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, core::Errc::kUnavailable) << slow.error().internal;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(db.pool().open_connections(), 0u) << "the timed-out connection was not reused";
  EXPECT_TRUE(Await(db.pool().Query("SELECT 1", {}))) << "a fresh connection replaced it";
}

TEST(PgPool, WaitersAreBoundedInNumberAndTime) {
  test_util::FreshDatabase db(
      PgPoolOptions{.conninfo = "", .max_connections = 1, .max_waiters = 1, .acquire_timeout = 200ms, .query_timeout = 5s});
  boost::asio::io_context io;
  std::vector<std::optional<core::Result<PgResult>>> results(3);
  for (int i = 0; i < 3; ++i)
    boost::asio::co_spawn(io, db.pool().Query(i == 0 ? "SELECT pg_sleep(1)" : "SELECT 1", {}),
                          [&results, i](std::exception_ptr, core::Result<PgResult> r) { results[i].emplace(std::move(r)); });
  io.run();
  ASSERT_TRUE(results[0] && *results[0]) << "the holder ran";
  ASSERT_TRUE(results[1] && results[2]);
  // One waited and gave up after acquire_timeout; the other found the queue full at once.
  EXPECT_FALSE(*results[1]);
  EXPECT_FALSE(*results[2]);
  EXPECT_EQ(results[1]->error().code, core::Errc::kUnavailable);
  EXPECT_EQ(results[2]->error().code, core::Errc::kUnavailable);
  EXPECT_NE(results[1]->error().internal.find("within 200 ms"), std::string::npos) << results[1]->error().internal;
  EXPECT_NE(results[2]->error().internal.find("queue is full"), std::string::npos) << results[2]->error().internal;
}

TEST(PgPool, AFreedConnectionGoesToTheNextWaiter) {
  test_util::FreshDatabase db(PgPoolOptions{.conninfo = "", .max_connections = 2, .acquire_timeout = 5s});
  boost::asio::io_context io;
  constexpr int kCallers = 20;
  int ok = 0;
  for (int i = 0; i < kCallers; ++i)
    boost::asio::co_spawn(io, db.pool().Query("SELECT pg_sleep(0.01)", {}),
                          [&ok](std::exception_ptr, core::Result<PgResult> r) { ok += r ? 1 : 0; });
  io.run();
  EXPECT_EQ(ok, kCallers);
  EXPECT_LE(db.pool().open_connections(), 2u);
}

TEST(PgPool, AnUnreachableServerIsUnavailableQuickly) {
  shopd::testing::IoThread io_thread;
  // A port nothing listens on (the test server's own port + 1 is not used by it).
  PgPool pool(io_thread.io().get_executor(),
              PgPoolOptions{.conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=2",
                            .connect_timeout = 2s});
  auto r = Await(pool.Query("SELECT 1", {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kUnavailable) << r.error().internal;
  EXPECT_EQ(pool.open_connections(), 0u);
}

TEST(PgMigrations, ApplyingTwiceChangesNothing) {
  test_util::FreshDatabase db;  // migrated once
  auto before = Await(db.pool().Query("SELECT count(*), max(version) FROM schema_migrations", {}));
  ASSERT_TRUE(before);
  EXPECT_GE(before->Int64(0, 0), 1);
  EXPECT_EQ(before->Int64(0, 0), before->Int64(0, 1));  // versions 1..n, no gap
  ASSERT_TRUE(Await(ApplyMigrations(db.pool())));
  auto after = Await(db.pool().Query("SELECT count(*) FROM schema_migrations", {}));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->Int64(0, 0), before->Int64(0, 0));
}

// A database migrated by a build before migration 2: its users and sessions
// survive, every user at token version 0, every family started at its
// oldest token still on file. (Later migrations are undone first.)
TEST(PgMigrations, Migration2KeepsExistingUsersAndDatesTheirFamilies) {
  test_util::FreshDatabase db;
  for (const char* sql : {"DROP TABLE outbox", "DROP TABLE order_items", "DROP TABLE orders",
                          "DROP TABLE pending_orders", "DROP TABLE products", "DROP FUNCTION orders_machines",
                          "DROP FUNCTION orders_pending_insert", "DROP TABLE consumer_offsets", "DROP TABLE events", "DROP TABLE topic_heads",
                          "DROP TABLE job_counters", "DROP TABLE jobs", "DROP INDEX refresh_tokens_user_id", "DROP INDEX refresh_tokens_family_started_at",
                          "DROP INDEX refresh_tokens_purgeable",
                          "ALTER TABLE users DROP COLUMN token_version",
                          "ALTER TABLE refresh_tokens DROP COLUMN family_started_at",
                          "DELETE FROM schema_migrations WHERE version >= 2",
                          "INSERT INTO users VALUES ('u1', 'a@example.com', 'A', 'user', 'h', 1)",
                          "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at, spent_at) "
                          "VALUES ('t1', 'u1', 'f1', 100, 200, 150), ('t2', 'u1', 'f1', 150, 250, NULL), "
                          "('t3', 'u1', 'f2', 300, 400, NULL)"}) {
    ASSERT_TRUE(Await(db.pool().Query(sql, {}))) << sql;
  }
  ASSERT_TRUE(Await(ApplyMigrations(db.pool())));
  auto version = Await(db.pool().Query("SELECT token_version FROM users WHERE id = 'u1'", {}));
  ASSERT_TRUE(version);
  EXPECT_EQ(version->Int64(0, 0), 0);
  auto started = Await(db.pool().Query("SELECT token_hash, family_started_at FROM refresh_tokens ORDER BY token_hash", {}));
  ASSERT_TRUE(started);
  ASSERT_EQ(started->rows(), 3);
  EXPECT_EQ(started->Int64(0, 1), 100);
  EXPECT_EQ(started->Int64(1, 1), 100);
  EXPECT_EQ(started->Int64(2, 1), 300);
}

}  // namespace
}  // namespace shopd::storage::postgres
