// storage/postgres: a bounded pool of PgConnections. Depends on core.
//
// At most `max_connections` connections, opened on demand. A caller that finds
// none free waits in a bounded queue (`max_waiters`, then kUnavailable at once)
// for at most `acquire_timeout`. A connection that failed or timed out is
// dropped, never handed out again. Safe to use from any thread.
//
//   PgPool pool(io.get_executor(), {.conninfo = "host=... dbname=shop"});
//   auto rows = co_await pool.Query("SELECT 1", {});
//   auto done = co_await pool.With<User>([&](PgConnection& c) -> Async<User> { ... });  // a transaction
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "storage/postgres/pg_connection.h"

namespace shopd::storage::postgres {

struct PgPoolOptions {
  std::string conninfo;
  size_t max_connections = 8;
  size_t max_waiters = 1024;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds acquire_timeout{2000};
  std::chrono::milliseconds query_timeout{5000};
};

class PgPool {
 public:
  // Connections' sockets are registered with `io_executor`'s context, which
  // must run while the pool is used and outlive it.
  PgPool(boost::asio::any_io_executor io_executor, PgPoolOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // One connection, held for the duration of fn (e.g. a transaction).
  template <class T>
  boost::asio::awaitable<core::Result<T>> With(std::function<boost::asio::awaitable<core::Result<T>>(PgConnection&)> fn) {
    auto conn = co_await Acquire();
    if (!conn) co_return conn.error();
    Lease lease(*this, std::move(*conn));
    co_return co_await fn(*lease.conn);
  }

  // One statement on any free connection.
  boost::asio::awaitable<core::Result<PgResult>> Query(std::string sql, std::vector<PgParam> params);

  const PgPoolOptions& options() const { return options_; }
  size_t open_connections() const;

 private:
  struct Waiter;
  // Gives the connection back (or drops it when it is broken) on every path.
  struct Lease {
    Lease(PgPool& p, std::unique_ptr<PgConnection> c) : pool(p), conn(std::move(c)) {}
    ~Lease() { pool.Release(std::move(conn)); }
    PgPool& pool;
    std::unique_ptr<PgConnection> conn;
  };

  boost::asio::awaitable<core::Result<std::unique_ptr<PgConnection>>> Acquire();
  void Release(std::unique_ptr<PgConnection> conn);

  const boost::asio::any_io_executor io_executor_;
  const PgPoolOptions options_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  size_t open_ = 0;  // idle + leased + connecting
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace shopd::storage::postgres
