// storage/postgres/testing: a throwaway PostgreSQL 15 server for tests, for test targets only.
// Depends on libpq and Debian's postgresql-15 binaries (/usr/lib/postgresql/15/bin); never on a
// system PostgreSQL service.
//
// Everything (data dir, unix socket, logs) lives in a fresh temp dir under $TMPDIR; the server
// listens on a free 127.0.0.1 port with trust auth for the superuser `shopd_test`. Tests isolate
// themselves with a database each rather than a server each, since a database costs tens of
// milliseconds and a server about a second:
//
//   auto* pg = PostgresTestServer::Shared();
//   if (pg == nullptr) GTEST_SKIP() << "PostgreSQL 15 binaries not installed";
//   const std::string db = pg->CreateDatabase();
//   PgPool pool(io.get_executor(), {.conninfo = pg->ConnInfo(db)});
//   ...
//   pg->DropDatabase(db);
//
// As root (containers, CI) the server runs as the `postgres` system user, because initdb and
// postgres refuse to run as root.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <vector>

struct pg_conn;

namespace shopd::storage::postgres::testing {

class PostgresTestServer {
 public:
  // Throws std::runtime_error with a clear message (including the tail of the server log) if the
  // server cannot be started within 30 s.
  PostgresTestServer();
  // pg_ctl stop -m immediate (bounded, 10 s), then kill -9 of the postmaster if still alive, then
  // removes the temp dir. Never throws.
  ~PostgresTestServer();
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  int port() const { return port_; }
  // libpq conninfo for database `dbname`:
  // "host=127.0.0.1 port=N dbname=... user=shopd_test connect_timeout=5".
  std::string ConnInfo(const std::string& dbname) const;
  // Creates a new empty database with a unique name (shopd_test_1, _2, ...) owned by the test user
  // and returns its name. Thread-safe. Throws std::runtime_error on failure.
  std::string CreateDatabase();
  // Drops it (WITH (FORCE), so open connections do not keep it alive). Best effort, never throws.
  void DropDatabase(const std::string& name);

  // One server per test process, started on first use and stopped at exit. Returns nullptr (and
  // prints why to stderr once) when the PostgreSQL binaries are missing, so a test can
  // GTEST_SKIP(); with SHOPD_REQUIRE_POSTGRES=1 in the environment it throws instead. A server
  // that is installed but fails to start always throws (the same error on every call, without
  // retrying), because that is a broken machine rather than a missing dependency.
  static PostgresTestServer* Shared();

 private:
  void Start();
  void Cleanup() noexcept;
  void StartWatchdog();
  void StopWatchdog() noexcept;
  // Runs one statement on admin_ (mu_ held); "" on success, else the error.
  std::string AdminExec(const std::string& sql);
  // Runs argv (as the server user) with stdout and stderr appended to `output_path`; returns the
  // exit code, or -1 if it had to be killed after `timeout_ms`.
  int Run(const std::vector<std::string>& argv, const std::string& output_path, int timeout_ms) const;

  // The process that started the server: a fork()ed copy (a death test) must not stop it.
  pid_t owner_pid_ = -1;
  // -1 when running as the current user; else the `postgres` user to switch to.
  uid_t run_uid_ = static_cast<uid_t>(-1);
  gid_t run_gid_ = static_cast<gid_t>(-1);
  std::string temp_dir_;
  std::string data_dir_;
  std::string log_file_;
  int port_ = 0;
  pid_t postmaster_pid_ = -1;
  pid_t watchdog_pid_ = -1;
  int watchdog_fd_ = -1;

  std::mutex mu_;
  int next_db_ = 0;
  // A connection to dbname=postgres, kept because a new one costs more than CREATE DATABASE itself.
  pg_conn* admin_ = nullptr;
};

}  // namespace shopd::storage::postgres::testing
