// storage/sqlite: thin RAII wrappers over one SQLite connection and its
// prepared statements. Depends on core and libsqlite3 (not on its header here).
//
// A Connection is used by one thread at a time (SqliteDatabase leases it out);
// it caches prepared statements for hot queries. No ORM: SQL stays visible.
//
//   auto st = conn.Prepare("SELECT name FROM users WHERE id = ?");
//   if (!st) return st.error();
//   st->Bind(1, id);
//   auto row = st->Step();             // Result<bool>: true = a row is ready
//   if (row && *row) name = st->ColumnText(0);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace shopd::storage::sqlite {

// Maps a failed SQLite call to a core::Error: unique/primary-key violations ->
// kConflict, busy/locked (after busy_timeout) -> kUnavailable, anything else ->
// kInternal. The SQLite message goes to `internal` only.
core::Error SqliteError(sqlite3* db, int rc, std::string_view context);

// A prepared statement. Move-only. An owned statement is finalized on
// destruction; one borrowed from a Connection's cache is reset and unbound
// instead, so that it never keeps a read transaction (and the WAL) pinned.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based. A bind failure is reported by the next Step/Run,
  // so call sites stay a flat list of binds.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t value);
  Statement& BindNull(int index);

  // true when a row is available, false when the statement is done.
  core::Result<bool> Step();
  // Steps until done (writes, DDL); rows, if any, are ignored.
  core::Result<void> Run();
  // Rewinds the statement so it can be stepped again with new bindings.
  void Reset();

  // Columns are 0-based, valid after Step() returned true.
  std::string ColumnText(int index) const;
  int64_t ColumnInt64(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  friend class Connection;
  Statement(sqlite3_stmt* stmt, bool* in_use);  // in_use == nullptr: owned

  void Release();

  sqlite3_stmt* stmt_ = nullptr;
  bool* in_use_ = nullptr;  // the cache slot's flag when borrowed
  int bind_rc_ = 0;         // first bind failure, reported by Step
};

struct ConnectionOptions {
  std::string path;
  int busy_timeout_ms = 5000;
};

class Connection {
 public:
  // Opens (creating if needed) the file and applies the per-connection pragmas.
  static core::Result<std::unique_ptr<Connection>> Open(const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A statement from this connection's cache, prepared on first use. If the
  // cached one is already in use (a nested query with the same SQL) a private
  // one is prepared instead.
  core::Result<Statement> Prepare(std::string_view sql);
  // A statement that is not cached: one-off and DDL SQL.
  core::Result<Statement> PrepareUncached(std::string_view sql);
  // Runs one or more statements without results (migrations).
  core::Result<void> Exec(const std::string& sql);
  // Runs one statement without results, prepared once and cached.
  core::Result<void> RunCached(std::string_view sql);

  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t Changes() const;
  // False while a transaction is open.
  bool InAutocommit() const;

  sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  // Lets the cache be searched by string_view without building a string.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };

  sqlite3* db_;
  std::unordered_map<std::string, CachedStatement, SqlHash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed.
//
// IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a
// read-then-write transaction can never fail half-way with SQLITE_BUSY_SNAPSHOT
// as a DEFERRED one does in WAL mode when another writer commits in between.
// Nests: inside an open transaction (e.g. a SqliteWriter batch) it becomes a
// SAVEPOINT, so code written as "one transaction" also runs as one step of a
// group commit, and its failure rolls back only its own changes.
class Transaction {
 public:
  static core::Result<Transaction> BeginImmediate(Connection& conn);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_), nested_(other.nested_) {
    other.conn_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  core::Result<void> Commit();

 private:
  Transaction(Connection* conn, bool nested) : conn_(conn), nested_(nested) {}
  Connection* conn_;  // nullptr once committed or rolled back
  bool nested_;       // a savepoint inside an enclosing transaction
};

}  // namespace shopd::storage::sqlite
