// storage/postgres: one transaction on one pooled connection. Depends on the
// pool.
//
// The body's statements run between BEGIN and COMMIT; a body that returns an
// error is rolled back, so a business refusal (a pending-order cap, an unknown
// product) leaves nothing behind. A statement that fails or times out leaves
// the connection unhealthy and the pool drops it, so no half-done transaction
// is ever committed or handed to the next caller.
//
//   auto order = co_await InTransaction<Order>(pool, [](PgConnection& c) { return Write(c, ...); });
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <utility>

#include "core/error.h"
#include "storage/postgres/pg_pool.h"

namespace shopd::storage::postgres {

template <class T>
using TxBody = std::function<boost::asio::awaitable<core::Result<T>>(PgConnection&)>;

namespace detail {
// A named coroutine taking the body by value: GCC 12 destroys the captures of
// a lambda coroutine twice.
template <class T>
boost::asio::awaitable<core::Result<T>> RunTransaction(PgConnection& conn, std::chrono::milliseconds timeout,
                                                       TxBody<T> body) {
  if (auto begun = co_await Run(conn, timeout, "BEGIN"); !begun) co_return begun.error();
  core::Result<T> result = co_await body(conn);
  if (!result) {
    (void)co_await Run(conn, timeout, "ROLLBACK");
    co_return result;
  }
  if (auto committed = co_await Run(conn, timeout, "COMMIT"); !committed) co_return committed.error();
  co_return result;
}
}  // namespace detail

template <class T>
boost::asio::awaitable<core::Result<T>> InTransaction(PgPool& pool, TxBody<T> body) {
  const std::chrono::milliseconds timeout = pool.options().query_timeout;
  std::function<boost::asio::awaitable<core::Result<T>>(PgConnection&)> run =
      [timeout, body = std::move(body)](PgConnection& conn) { return detail::RunTransaction<T>(conn, timeout, body); };
  return pool.With<T>(std::move(run));
}

}  // namespace shopd::storage::postgres
