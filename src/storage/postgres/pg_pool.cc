#include "storage/postgres/pg_pool.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

namespace shopd::storage::postgres {
namespace {

namespace asio = boost::asio;

core::Error Busy(std::string detail) {
  core::Error e = core::Error::Make(core::Errc::kUnavailable, "database is busy, retry shortly", std::move(detail));
  e.retry_after_s = 1;
  return e;
}

}  // namespace

// A caller waiting for a connection. Its timer lives on the caller's executor;
// Release hands over under the lock and cancels the timer there.
struct PgPool::Waiter {
  explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  std::unique_ptr<PgConnection> handed;  // set under mu_
  bool may_open = false;                 // a slot freed up: open a connection yourself
  bool done = false;                     // handed over, or gave up
};

PgPool::PgPool(asio::any_io_executor io_executor, PgPoolOptions options)
    : io_executor_(std::move(io_executor)), options_(std::move(options)) {}

PgPool::~PgPool() = default;

size_t PgPool::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

asio::awaitable<core::Result<std::unique_ptr<PgConnection>>> PgPool::Acquire() {
  const asio::any_io_executor caller = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      co_return std::move(conn);
    }
    if (open_ < options_.max_connections) {
      ++open_;  // this caller opens it, below
    } else if (waiters_.size() >= options_.max_waiters) {
      co_return Busy("connection pool queue is full");
    } else {
      waiter = std::make_shared<Waiter>(caller);
      waiter->timer.expires_after(options_.acquire_timeout);
      waiters_.push_back(waiter);
    }
  }
  if (waiter) {
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mu_);
    if (waiter->handed) co_return std::move(waiter->handed);
    if (!waiter->may_open) {
      waiter->done = true;
      waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
      co_return Busy("no database connection free within " + std::to_string(options_.acquire_timeout.count()) +
                     " ms");
    }
    // The slot was counted for us by Release: open a connection below.
  }
  auto conn = co_await PgConnection::Connect(io_executor_, options_.conninfo, options_.connect_timeout);
  if (!conn) {
    Release(nullptr);  // gives the slot back
    co_return conn.error();
  }
  co_return std::move(*conn);
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  std::shared_ptr<Waiter> wake;
  {
    std::lock_guard lock(mu_);
    const bool reusable = conn && conn->healthy();
    if (!reusable) --open_;
    while (!waiters_.empty() && !wake) {
      auto w = waiters_.front();
      waiters_.pop_front();
      if (w->done) continue;
      w->done = true;
      if (reusable) {
        w->handed = std::move(conn);
      } else {
        ++open_;  // the freed slot goes to this waiter, who opens a connection
        w->may_open = true;
      }
      wake = std::move(w);
    }
    if (!wake && reusable) idle_.push_back(std::move(conn));
  }
  // Dropped connections close here, outside the lock.
  if (wake) asio::post(wake->timer.get_executor(), [wake] { wake->timer.cancel(); });
}

asio::awaitable<core::Result<PgResult>> PgPool::Query(std::string sql, std::vector<PgParam> params) {
  auto conn = co_await Acquire();
  if (!conn) co_return conn.error();
  Lease lease(*this, std::move(*conn));
  co_return co_await lease.conn->Query(std::move(sql), std::move(params), options_.query_timeout);
}

}  // namespace shopd::storage::postgres
