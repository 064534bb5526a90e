#include "storage/sqlite/sqlite_connection.h"


#include <sqlite3.h>

#include <utility>

namespace shopd::storage::sqlite {

core::Error SqliteError(sqlite3* db, int rc, std::string_view context) {
  std::string detail(context);
  detail += ": ";
  // errmsg describes the most recent failure on this connection, which is this
  // one because a connection is used by a single thread at a time.
  detail += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  detail += " (code " + std::to_string(rc) + ")";

  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return core::Error::Make(core::Errc::kConflict, "already exists", std::move(detail));
  }
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    // Only reached once busy_timeout has run out: the database is overloaded
    // or a writer is stuck, so the client should back off and retry.
    core::Error e =
        core::Error::Make(core::Errc::kUnavailable, "database is busy, retry shortly", std::move(detail));
    e.retry_after_s = 1;
    return e;
  }
  if (primary == SQLITE_FULL || primary == SQLITE_IOERR) {
    // The disk is full or failing: nothing the client did wrong, and nothing
    // it can fix; it may retry once an operator freed space. The detail goes
    // to the log, where the operator looks.
    core::Error e = core::Error::Make(core::Errc::kUnavailable, "storage is unavailable, retry later",
                                      std::move(detail));
    e.retry_after_s = 30;
    return e;
  }
  return core::Error::Make(core::Errc::kInternal, "internal error", std::move(detail));
}

// Statement

Statement::Statement(sqlite3_stmt* stmt, bool* in_use) : stmt_(stmt), in_use_(in_use) {}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_rc_(other.bind_rc_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    in_use_ = std::exchange(other.in_use_, nullptr);
    bind_rc_ = other.bind_rc_;
  }
  return *this;
}

Statement::~Statement() { Release(); }

void Statement::Release() {
  if (stmt_ == nullptr) return;
  if (in_use_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
  in_use_ = nullptr;
}

Statement& Statement::Bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

core::Result<bool> Statement::Step() {
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (bind_rc_ != SQLITE_OK) return SqliteError(db, bind_rc_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  core::Error e = SqliteError(db, rc, sqlite3_sql(stmt_));
  // Leave the statement reusable for the next caller.
  sqlite3_reset(stmt_);
  return e;
}

core::Result<void> Statement::Run() {
  for (;;) {
    core::Result<bool> row = Step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

std::string Statement::ColumnText(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

int64_t Statement::ColumnInt64(int index) const { return sqlite3_column_int64(stmt_, index); }

bool Statement::ColumnIsNull(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

// Connection

namespace {
// Process-wide settings, applied once before SQLite initialises. Memory
// statistics take a global mutex around every allocation SQLite makes, and
// nothing here reads them.
void ConfigureSqliteOnce() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return sqlite3_initialize() == SQLITE_OK;
  }();
  (void)configured;
}
}  // namespace

core::Result<std::unique_ptr<Connection>> Connection::Open(const ConnectionOptions& options) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  // NOMUTEX: SqliteDatabase guarantees one thread per connection at a time, so
  // SQLite's per-connection mutex would be pure overhead.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    core::Error e = SqliteError(db, rc, "open " + options.path);
    sqlite3_close_v2(db);
    return e;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  // Extended codes tell a UNIQUE violation apart from other constraint failures.
  sqlite3_extended_result_codes(db, 1);
  // Set first: the pragmas below (journal_mode) may already need a lock that
  // another process holds, and every wait must be bounded.
  sqlite3_busy_timeout(db, options.busy_timeout_ms);

  // foreign_keys and synchronous are per connection, so every connection sets
  // them. synchronous=NORMAL is durable across process crashes in WAL mode
  // (commits are in the WAL before COMMIT returns); only an OS crash or power
  // loss can drop the last commits, never corrupt the database, and it saves
  // an fsync per transaction. temp_store=MEMORY keeps savepoint journals
  // (the group commit runs every write in a savepoint, which journals each
  // page it first touches) in memory: on a temp file that was one pwrite per
  // page, more write syscalls than the WAL itself. Their size is bounded by
  // one write's pages.
  if (auto r = conn->Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"); !r) {
    return r.error();
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

core::Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
    it = cache_.emplace(std::string(sql), CachedStatement{stmt, false}).first;
  }
  if (it->second.in_use) return PrepareUncached(sql);
  it->second.in_use = true;
  return Statement(it->second.stmt, &it->second.in_use);
}

core::Result<Statement> Connection::PrepareUncached(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
  return Statement(stmt, nullptr);
}

core::Result<void> Connection::Exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // errmsg(db_) carries the same text
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "exec");
  return {};
}

core::Result<void> Connection::RunCached(std::string_view sql) {
  auto st = Prepare(sql);
  if (!st) return st.error();
  return st->Run();
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

bool Connection::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

// Transaction

core::Result<Transaction> Transaction::BeginImmediate(Connection& conn) {
  if (!conn.InAutocommit()) {
    // One name for every level: nested transactions end in reverse order of
    // beginning, and RELEASE / ROLLBACK TO act on the innermost savepoint of
    // a name, so the statements stay the same and are prepared once per
    // connection (the group commit runs one per write).
    if (auto r = conn.RunCached("SAVEPOINT shopd_step"); !r) return r.error();
    return Transaction(&conn, /*nested=*/true);
  }
  auto begin = conn.Prepare("BEGIN IMMEDIATE");
  if (!begin) return begin.error();
  if (auto r = begin->Run(); !r) return r.error();
  return Transaction(&conn, /*nested=*/false);
}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  if (nested_) {
    // Undo this step only; the enclosing transaction goes on.
    if (!conn_->InAutocommit()) {
      (void)conn_->RunCached("ROLLBACK TO shopd_step");
      (void)conn_->RunCached("RELEASE shopd_step");
    }
    return;
  }
  // A failed COMMIT or an early return leaves the transaction open; the
  // connection goes back to the pool and must not carry it along.
  if (!conn_->InAutocommit()) {
    if (auto rollback = conn_->Prepare("ROLLBACK")) (void)rollback->Run();
  }
}

core::Result<void> Transaction::Commit() {
  if (nested_) {
    if (auto r = conn_->RunCached("RELEASE shopd_step"); !r) return r.error();
    conn_ = nullptr;
    return {};
  }
  auto commit = conn_->Prepare("COMMIT");
  if (!commit) return commit.error();
  if (auto r = commit->Run(); !r) return r.error();
  conn_ = nullptr;
  return {};
}

}  // namespace shopd::storage::sqlite
