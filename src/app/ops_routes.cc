#include "app/ops_routes.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/problem.h"
#include "http/router.h"
#include "obs/metrics.h"

namespace shopd::app {
namespace asio = boost::asio;

CachedReadyCheck::CachedReadyCheck(ReadyCheck check, const core::Clock& clock, int64_t ttl_ms)
    : check_(std::move(check)), clock_(clock), ttl_ms_(ttl_ms) {}

asio::awaitable<core::Result<void>> CachedReadyCheck::Check() {
  bool lead = false;
  {
    std::lock_guard lock(mu_);
    if (have_result_ && clock_.MonotonicMs() - checked_at_ms_ < ttl_ms_) {
      core::Result<void> cached = last_;
      co_return cached;
    }
    if (!in_flight_) in_flight_ = lead = true;
  }
  if (lead) co_return co_await RunCheck();
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(core::Result<void>)>(
      [this, executor](auto handler) { Wait(Waiter{executor, std::move(handler)}); }, asio::use_awaitable);
}

void CachedReadyCheck::Complete(Waiter w, core::Result<void> result) {
  auto executor = w.executor;
  asio::post(executor, [h = std::move(w.handler), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
}

void CachedReadyCheck::Wait(Waiter waiter) {
  auto complete = &CachedReadyCheck::Complete;
  std::unique_lock lock(mu_);
  if (!in_flight_) {  // the check finished between Check() and here
    core::Result<void> r = last_;
    lock.unlock();
    complete(std::move(waiter), std::move(r));
  } else if (waiters_.size() >= kMaxWaiters) {
    lock.unlock();
    complete(std::move(waiter), core::Error::Make(core::Errc::kUnavailable, "too many readiness checks waiting"));
  } else {
    waiters_.push_back(std::move(waiter));
  }
}

asio::awaitable<core::Result<void>> CachedReadyCheck::RunCheck() {
  checks_run_.fetch_add(1, std::memory_order_relaxed);
  core::Result<void> result;
  try {
    result = co_await check_();
  } catch (...) {
    result = core::Error::Make(core::Errc::kUnavailable, "readiness check failed",
                               core::ExceptionText(std::current_exception()));
  }
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    last_ = result;
    have_result_ = true;
    checked_at_ms_ = clock_.MonotonicMs();
    in_flight_ = false;
    waiters.swap(waiters_);
  }
  for (Waiter& w : waiters) Complete(std::move(w), result);
  co_return result;
}

void RegisterHealthRoutes(http::Router& router, CachedReadyCheck& ready) {
  // Liveness only: answers while the process can serve at all. Kept synchronous
  // and allocation-light; it is also the benchmark's baseline route.
  router.Get("/health", http::SyncHandler([](http::Request&) {
    return http::Response::Json(200, R"({"status":"ok"})");
  }));

  router.Get("/ready", http::AsyncHandler([&ready](http::Request& req) -> boost::asio::awaitable<http::Response> {
    auto ok = co_await ready.Check();
    if (!ok) {
      auto res = http::Problem(req, 503, "not-ready", "a dependency is unreachable");
      res.SetHeader("Retry-After", "1");
      co_return res;
    }
    co_return http::Response::Json(200, R"({"status":"ready"})");
  }));
}

void RegisterMetricsRoute(http::Router& router, obs::MetricsRegistry& metrics) {
  router.Get("/metrics", http::SyncHandler([&metrics](http::Request&) {
    http::Response res = http::Response::Text(200, metrics.RenderPrometheus());
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return res;
  }));
}

}  // namespace shopd::app
