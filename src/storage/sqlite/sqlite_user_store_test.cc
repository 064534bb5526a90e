#include "storage/sqlite/sqlite_user_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_test_util.h"
#include "storage/sqlite/sqlite_migrations.h"
#include "storage/user_store_contract_test.h"

namespace shopd::storage::sqlite {
namespace {

namespace fs = std::filesystem;

using test_util::OpenOrDie;
using test_util::TempDir;

// Members are destroyed in reverse: the store, then the pool (draining its
// tasks), then the database, then the files.
class SqliteHarness final : public contract::UserStoreHarness {
 public:
  SqliteHarness() : db_(OpenOrDie(dir_.path())), store_(*db_, pool_) {}
  UserStore& store() override { return store_; }

 private:
  TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  exec::WorkerPool pool_{4, 64, "sqlite-test"};
  SqliteUserStore store_;
};

using contract::Await;
using contract::UserStoreBackend;
using contract::UserStoreContract;

INSTANTIATE_TEST_SUITE_P(Sqlite, UserStoreContract,
                         ::testing::Values(UserStoreBackend{
                             "Sqlite", [] { return std::make_unique<SqliteHarness>(); }}),
                         contract::UserStoreBackendName);

// Single-value queries for inspecting the file behind the store's back.
std::string QueryText(SqliteDatabase& db, const std::string& sql) {
  auto r = db.WithConnection([&](Connection& conn) -> core::Result<std::string> {
    auto st = conn.PrepareUncached(sql);
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    if (!*row) return std::string();
    return st->ColumnText(0);
  });
  if (!r) throw std::runtime_error(r.error().internal);
  return *r;
}

int64_t MigrationCount(SqliteDatabase& db) {
  return std::stoll(QueryText(db, "SELECT COUNT(*) FROM schema_migrations"));
}

core::Result<void> Exec(SqliteDatabase& db, const std::string& sql) {
  return db.WithConnection([&](Connection& conn) { return conn.Exec(sql); });
}

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(SqliteDatabaseTest, CreatesTheFileInWalModeWithConnectionPragmas) {
  auto db = OpenOrDie(dir_.path());
  EXPECT_EQ(db->path(), (fs::path(dir_.path()) / "shopd.db").string());
  EXPECT_TRUE(fs::exists(db->path()));
  EXPECT_EQ(QueryText(*db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryText(*db, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(QueryText(*db, "PRAGMA synchronous"), "1");  // NORMAL
  EXPECT_EQ(QueryText(*db, "PRAGMA temp_store"), "2");   // MEMORY
  EXPECT_EQ(QueryText(*db, "PRAGMA busy_timeout"), "5000");
  EXPECT_TRUE(db->Ping());
}

TEST_F(SqliteDatabaseTest, AFullDiskIsUnavailableWithRetryAfterNotAnInternalError) {
  auto db = OpenOrDie(dir_.path());
  // max_page_count makes SQLite answer SQLITE_FULL as a full disk would.
  auto r = db->WithConnection([](Connection& conn) -> core::Result<void> {
    if (auto c = conn.Exec("CREATE TABLE filler (blob BLOB); PRAGMA max_page_count = 64;"); !c) return c.error();
    for (int i = 0; i < 1000; ++i)
      if (auto c = conn.Exec("INSERT INTO filler VALUES (zeroblob(4000))"); !c) return c.error();
    return {};
  });
  ASSERT_FALSE(r) << "the page limit was never reached";
  EXPECT_EQ(r.error().code, core::Errc::kUnavailable) << r.error().internal;
  EXPECT_GT(r.error().retry_after_s, 0);
  EXPECT_NE(r.error().internal.find("full"), std::string::npos) << r.error().internal;
}

TEST_F(SqliteDatabaseTest, CreatesAMissingDataDir) {
  auto db = OpenOrDie(dir_.path() + "/nested/data");
  EXPECT_TRUE(fs::exists(db->path()));
}

TEST_F(SqliteDatabaseTest, MigrationsAreIdempotentAcrossReopens) {
  const auto latest = static_cast<int64_t>(Migrations().size());
  {
    auto db = OpenOrDie(dir_.path());
    EXPECT_EQ(MigrationCount(*db), latest);
    ASSERT_TRUE(Exec(*db, "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ('u1', 'a@example.com', 'A', 'user', 'h', 1)"));
  }
  for (int i = 0; i < 3; ++i) {
    auto db = OpenOrDie(dir_.path());
    EXPECT_EQ(MigrationCount(*db), latest);
    EXPECT_EQ(QueryText(*db, "SELECT MAX(version) FROM schema_migrations"),
              std::to_string(Migrations().back().version));
    EXPECT_EQ(QueryText(*db, "SELECT email FROM users WHERE id = 'u1'"), "a@example.com");
  }
}

// A database written by a build without migration 5 (it may have later ones,
// numbered ahead by parallel work): its users and sessions survive, every
// user at token version 0, every family started at its oldest token on file.
TEST_F(SqliteDatabaseTest, Migration5KeepsExistingUsersAndDatesTheirFamilies) {
  {
    // Every migration but 5, as that build left it.
    auto conn = Connection::Open({.path = (fs::path(dir_.path()) / "shopd.db").string()});
    ASSERT_TRUE(conn) << conn.error().internal;
    std::vector<Migration> before;
    for (const Migration& m : Migrations())
      if (m.version != 5) before.push_back(m);
    ASSERT_TRUE(ApplyMigrations(**conn, before));
    ASSERT_TRUE((*conn)->Exec("INSERT INTO users VALUES ('u1', 'a@example.com', 'A', 'user', 'h', 1)"));
    ASSERT_TRUE((*conn)->Exec(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at, spent_at) "
        "VALUES ('t1', 'u1', 'f1', 100, 200, 150), ('t2', 'u1', 'f1', 150, 250, NULL), "
        "('t3', 'u1', 'f2', 300, 400, NULL)"));
  }
  auto db = OpenOrDie(dir_.path());
  EXPECT_EQ(MigrationCount(*db), static_cast<int64_t>(Migrations().size()));
  exec::WorkerPool pool(1, 16);
  SqliteUserStore store(*db, pool);
  auto user = Await(store.FindUserById("u1"));
  ASSERT_TRUE(user) << user.error().internal;
  EXPECT_EQ(user->token_version, 0);
  for (auto [hash, started] : {std::pair{"t1", 100}, {"t2", 100}, {"t3", 300}}) {
    auto t = Await(store.FindRefreshToken(hash));
    ASSERT_TRUE(t) << hash;
    EXPECT_EQ(t->token.family_started_at, started) << hash;
  }
}

TEST_F(SqliteDatabaseTest, RefusesASchemaNewerThanThisBuild) {
  {
    auto db = OpenOrDie(dir_.path());
    ASSERT_TRUE(Exec(*db, "INSERT INTO schema_migrations VALUES (100000, 0)"));
  }
  auto db = SqliteDatabase::Open({.data_dir = dir_.path()});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, core::Errc::kInternal);
  EXPECT_NE(db.error().internal.find("newer"), std::string::npos) << db.error().internal;
}

TEST_F(SqliteDatabaseTest, TwoInstancesOnOneFileSeeEachOthersWrites) {
  auto db_a = OpenOrDie(dir_.path());
  auto db_b = OpenOrDie(dir_.path());
  exec::WorkerPool pool(2, 16);
  SqliteUserStore store_a(*db_a, pool);
  SqliteUserStore store_b(*db_b, pool);

  User u;
  u.id = "u1";
  u.email = "a@example.com";
  u.name = "A";
  u.role = "user";
  u.password_hash = "h";
  ASSERT_TRUE(Await(store_a.CreateUser(u)));
  auto found = Await(store_b.FindUserByEmail("a@example.com"));
  ASSERT_TRUE(found) << found.error().internal;
  EXPECT_EQ(found->id, "u1");
  auto dup = Await(store_b.CreateUser(u));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::Errc::kConflict);
  EXPECT_EQ(MigrationCount(*db_b), static_cast<int64_t>(Migrations().size()));
}

// Several shopd worker processes start on one fresh data dir at once.
TEST_F(SqliteDatabaseTest, ConcurrentOpensFromSeveralProcessesMigrateOnce) {
  constexpr int kProcesses = 8;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto db = SqliteDatabase::Open({.data_dir = dir_.path()});
      core::Result<void> ok = db ? (*db)->Ping() : core::Result<void>(db.error());
      if (!ok) std::fprintf(stderr, "child open failed: %s\n", ok.error().internal.c_str());
      _exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child open failed";
  }
  auto db = OpenOrDie(dir_.path());
  EXPECT_EQ(MigrationCount(*db), static_cast<int64_t>(Migrations().size()));
  EXPECT_EQ(QueryText(*db, "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteDatabaseTest, ALockHeldPastTheBusyTimeoutIsUnavailable) {
  auto holder = OpenOrDie(dir_.path());
  auto waiter = OpenOrDie(dir_.path(), /*busy_timeout_ms=*/20);
  auto r = holder->WithConnection([&](Connection& conn) -> core::Result<void> {
    auto tx = Transaction::BeginImmediate(conn);
    if (!tx) return tx.error();
    return Exec(*waiter, "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ('u1', 'a@example.com', 'A', 'user', 'h', 1)");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kUnavailable) << r.error().internal;
  EXPECT_GT(r.error().retry_after_s, 0);
  // The holder's transaction was rolled back, so the waiter can write now.
  EXPECT_TRUE(Exec(*waiter, "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ('u1', 'a@example.com', 'A', 'user', 'h', 1)"));
}

TEST_F(SqliteDatabaseTest, ErrorsKeepSqliteDetailOutOfTheClientMessage) {
  auto db = OpenOrDie(dir_.path());
  auto r = Exec(*db, "INSERT INTO no_such_table VALUES (1)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kInternal);
  EXPECT_EQ(r.error().message.find("no_such_table"), std::string::npos);
  EXPECT_NE(r.error().internal.find("no_such_table"), std::string::npos);
}

TEST_F(SqliteDatabaseTest, ForeignKeysAreEnforced) {
  auto db = OpenOrDie(dir_.path());
  auto r = Exec(*db,
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, issued_at, expires_at) "
                "VALUES ('t', 'no-such-user', 'f', 0, 1)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kInternal);
}

TEST_F(SqliteDatabaseTest, CachedStatementsAreReusedAndNestedUseIsSafe) {
  auto db = OpenOrDie(dir_.path());
  ASSERT_TRUE(Exec(*db,
                   "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ('u1', 'a@example.com', 'A', 'user', 'h', 1), "
                   "('u2', 'b@example.com', 'B', 'user', 'h', 2)"));
  auto r = db->WithConnection([](Connection& conn) -> core::Result<std::string> {
    const char* sql = "SELECT id FROM users ORDER BY id";
    auto outer = conn.Prepare(sql);
    if (!outer) return outer.error();
    std::string seen;
    while (true) {
      auto row = outer->Step();
      if (!row) return row.error();
      if (!*row) break;
      // Same SQL while the cached statement is mid-iteration.
      auto inner = conn.Prepare(sql);
      if (!inner) return inner.error();
      auto inner_row = inner->Step();
      if (!inner_row || !*inner_row) return core::Error::Make(core::Errc::kInternal, "inner");
      seen += outer->ColumnText(0) + "/" + inner->ColumnText(0) + " ";
    }
    return seen;
  });
  ASSERT_TRUE(r) << r.error().internal;
  EXPECT_EQ(*r, "u1/u1 u2/u1 ");
}

}  // namespace
}  // namespace shopd::storage::sqlite
