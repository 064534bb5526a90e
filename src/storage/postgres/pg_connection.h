// storage/postgres: one libpq connection driven by the Asio event loop.
// Depends on core and libpq.
//
// libpq runs in non-blocking mode; its socket is watched with a
// posix::stream_descriptor, so a query suspends the calling coroutine instead
// of blocking its thread. Every operation has a deadline: on expiry the
// connection is marked broken (the query's outcome is unknown) and the pool
// drops it. Statements with parameters are prepared on first use and then
// only executed, so the server parses and plans each once per connection.
//
//   auto conn = co_await PgConnection::Connect(ex, "host=127.0.0.1 port=5432 dbname=shop", 5s);
//   auto rows = co_await (*conn)->Query("SELECT id FROM users WHERE email = $1", {email}, 5s);
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

struct pg_conn;
struct pg_result;

namespace shopd::storage::postgres {

// The rows (or command status) of one statement; text format.
class PgResult {
 public:
  PgResult() : r_(nullptr) {}  // no rows
  explicit PgResult(pg_result* r);
  ~PgResult();
  PgResult(PgResult&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;

  int rows() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int64(int row, int col) const;  // 0 for NULL
  bool Bool(int row, int col) const;      // 't' is true
  int64_t Affected() const;               // rows an INSERT/UPDATE/DELETE touched

 private:
  pg_result* r_;
};

// A statement parameter; nullopt is SQL NULL.
using PgParam = std::optional<std::string>;

class PgConnection {
 public:
  static boost::asio::awaitable<core::Result<std::unique_ptr<PgConnection>>> Connect(
      boost::asio::any_io_executor executor, std::string conninfo, std::chrono::milliseconds timeout);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with text parameters ($1, $2, ...). Errors: kConflict
  // for a unique violation, kUnavailable (retry later) for a timeout, a lost
  // connection, a serialization failure or a deadlock, kInternal otherwise.
  boost::asio::awaitable<core::Result<PgResult>> Query(std::string sql, std::vector<PgParam> params,
                                                       std::chrono::milliseconds timeout);
  // After LISTEN on this connection: waits up to `timeout` for notifications
  // and returns the channels that were notified (empty when none came in
  // time, or when CancelWait interrupted the wait). kUnavailable once the
  // connection broke.
  boost::asio::awaitable<core::Result<std::vector<std::string>>> WaitForNotifications(
      std::chrono::milliseconds timeout);
  // Ends a WaitForNotifications in progress early. Call on the connection's executor.
  void CancelWait();
  // Whether the pool may hand it out again: false once a query timed out or
  // the connection failed, and while a transaction is left open.
  bool healthy() const;

 private:
  struct Impl;
  explicit PgConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Statements of a transaction on one connection read best as a sequence of
// these. (Overloads, not a default argument: GCC 12 rejects some defaulted
// temporaries inside co_await expressions.)
inline boost::asio::awaitable<core::Result<PgResult>> Run(PgConnection& conn, std::chrono::milliseconds timeout,
                                                          std::string sql, std::vector<PgParam> params) {
  return conn.Query(std::move(sql), std::move(params), timeout);
}
inline boost::asio::awaitable<core::Result<PgResult>> Run(PgConnection& conn, std::chrono::milliseconds timeout,
                                                          std::string sql) {
  return conn.Query(std::move(sql), {}, timeout);
}

}  // namespace shopd::storage::postgres
