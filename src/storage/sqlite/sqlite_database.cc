#include "storage/sqlite/sqlite_database.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>

#include "storage/sqlite/sqlite_migrations.h"

namespace shopd::storage::sqlite {
namespace {

// Switches the file to WAL, which lets readers run alongside the single writer.
//
// Changing the journal mode needs an exclusive lock, and SQLite answers
// SQLITE_BUSY at once rather than calling the busy handler when another
// process holds any lock, which happens when several shopd processes open a
// fresh data dir together. So retry here, bounded by the same busy timeout.
core::Result<void> EnableWal(Connection& conn, int busy_timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    auto st = conn.PrepareUncached("PRAGMA journal_mode=WAL");
    if (!st) return st.error();
    core::Result<bool> row = st->Step();
    if (row) {
      if (*row && st->ColumnText(0) == "wal") return {};
      return core::Error::Make(core::Errc::kInternal, "internal error", "cannot use WAL journal mode");
    }
    if (row.error().code != core::Errc::kUnavailable || std::chrono::steady_clock::now() >= deadline) {
      return row.error();
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace

core::Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(SqliteOptions options) {
  if (sqlite3_threadsafe() == 0) {
    return core::Error::Make(core::Errc::kInternal, "internal error",
                             "libsqlite3 was built without thread support");
  }
  if (options.data_dir.empty()) {
    return core::Error::Make(core::Errc::kInternal, "internal error", "sqlite: data_dir is empty");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return core::Error::Make(core::Errc::kInternal, "internal error",
                             "sqlite: cannot create " + options.data_dir + ": " + ec.message());
  }
  std::string path = (std::filesystem::path(options.data_dir) / options.file_name).string();
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(std::move(options), std::move(path)));

  auto conn = db->Acquire();
  if (!conn) return conn.error();
  // The journal mode is stored in the file, so setting it once per open is
  // enough; it cannot change inside a transaction, hence before the migrations.
  if (auto r = EnableWal(**conn, db->options_.busy_timeout_ms); !r) {
    core::Error e = r.error();
    e.internal = "sqlite: " + db->path_ + ": " + e.internal;
    return e;
  }
  if (auto r = ApplyMigrations(**conn); !r) return r.error();
  db->Release(std::move(*conn));
  return db;
}

SqliteDatabase::SqliteDatabase(SqliteOptions options, std::string path)
    : options_(std::move(options)), path_(std::move(path)), owner_pid_(getpid()) {}

SqliteDatabase::~SqliteDatabase() = default;

core::Result<std::unique_ptr<Connection>> SqliteDatabase::Acquire() {
  if (getpid() != owner_pid_) {
    // Using a parent's connections from a forked child corrupts locking; see
    // the header. This is a wiring bug, reported loudly rather than risked.
    return core::Error::Make(core::Errc::kInternal, "internal error",
                             "sqlite: database opened before fork() is used in a child process");
  }
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  return Connection::Open({.path = path_, .busy_timeout_ms = options_.busy_timeout_ms});
}

void SqliteDatabase::Release(std::unique_ptr<Connection> conn) {
  // A connection still inside a transaction would hold the write lock for
  // whoever gets it next: close it instead (closing rolls back).
  if (conn == nullptr || !conn->InAutocommit()) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(conn));
}

core::Result<void> SqliteDatabase::Ping() {
  return WithConnection([](Connection& conn) -> core::Result<void> {
    auto st = conn.Prepare("SELECT 1");
    if (!st) return st.error();
    auto row = st->Step();
    if (!row) return row.error();
    return {};
  });
}

namespace {
thread_local const SqliteDatabase* tls_bound_db = nullptr;
thread_local Connection* tls_bound_conn = nullptr;
}  // namespace

SqliteDatabase::ScopedBinding::ScopedBinding(const SqliteDatabase* db, Connection* conn)
    : previous_db_(tls_bound_db), previous_conn_(tls_bound_conn) {
  tls_bound_db = db;
  tls_bound_conn = conn;
}

SqliteDatabase::ScopedBinding::~ScopedBinding() {
  tls_bound_db = previous_db_;
  tls_bound_conn = previous_conn_;
}

Connection* SqliteDatabase::BoundConnection(const SqliteDatabase* db) {
  return tls_bound_db == db ? tls_bound_conn : nullptr;
}

}  // namespace shopd::storage::sqlite
