// storage/sqlite: one SQLite database file and its connections. Depends on
// core and libsqlite3.
//
// Open() creates `<data_dir>/<file_name>` if needed, switches it to WAL and
// applies the schema migrations. Blocking: call it at start-up, and call
// WithConnection only from worker-pool threads, never from a reactor thread.
// Several SqliteDatabase instances, in one process or in several, may open the
// same file. Open it after fork(), never before: SQLite connections and their
// POSIX locks do not survive being copied into a child process.
//
//   auto db = SqliteDatabase::Open({.data_dir = "/var/lib/shopd"});
//   if (!db) return db.error();
//   auto n = (*db)->WithConnection([](Connection& c) -> core::Result<int64_t> { ... });
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "storage/sqlite/sqlite_connection.h"

namespace shopd::storage::sqlite {

struct SqliteOptions {
  std::string data_dir;  // created if missing
  std::string file_name = "shopd.db";
  int busy_timeout_ms = 5000;        // longest wait for a lock before kUnavailable
  size_t max_idle_connections = 16;  // more than this are closed when released
};

class SqliteDatabase {
 public:
  static core::Result<std::unique_ptr<SqliteDatabase>> Open(SqliteOptions options);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs fn(Connection&) with a connection that no other thread touches until
  // fn returns. fn must return core::Result<T>; a connection that cannot be
  // opened is returned as that Result's error.
  template <class Fn>
  auto WithConnection(Fn&& fn) -> std::invoke_result_t<Fn&, Connection&> {
    // Inside a SqliteWriter batch on this database, code joins the batch's
    // transaction (its own transactions become savepoints) instead of
    // competing for the write lock on another connection.
    if (Connection* bound = BoundConnection(this)) return fn(*bound);
    core::Result<std::unique_ptr<Connection>> conn = Acquire();
    if (!conn) return conn.error();
    Lease lease(this, std::move(*conn));
    return fn(*lease.conn);
  }

  // Binds `conn` as this thread's connection to `db` for the scope's life.
  class ScopedBinding {
   public:
    ScopedBinding(const SqliteDatabase* db, Connection* conn);
    ~ScopedBinding();
    ScopedBinding(const ScopedBinding&) = delete;
    ScopedBinding& operator=(const ScopedBinding&) = delete;

   private:
    const SqliteDatabase* previous_db_;
    Connection* previous_conn_;
  };
  static Connection* BoundConnection(const SqliteDatabase* db);

  // Blocking reachability check (SELECT 1) for readiness probes.
  core::Result<void> Ping();

  const std::string& path() const { return path_; }

 private:
  // Returns the connection to the pool even when fn throws.
  struct Lease {
    Lease(SqliteDatabase* db, std::unique_ptr<Connection> c) : db(db), conn(std::move(c)) {}
    ~Lease() { db->Release(std::move(conn)); }
    SqliteDatabase* db;
    std::unique_ptr<Connection> conn;
  };

  explicit SqliteDatabase(SqliteOptions options, std::string path);

  core::Result<std::unique_ptr<Connection>> Acquire();
  void Release(std::unique_ptr<Connection> conn);

  const SqliteOptions options_;
  const std::string path_;
  const pid_t owner_pid_;

  // A pool rather than thread_local connections: a connection is then never
  // shared by two threads at once, yet outlives no thread, and several
  // databases can coexist in one process (tests). It grows to the number of
  // threads using it concurrently, i.e. the worker pool size.
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace shopd::storage::sqlite
