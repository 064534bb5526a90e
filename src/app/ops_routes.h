// app: operational endpoints every service exposes: /health, /ready, /metrics.
//
// /health and /ready are public; /metrics goes on the public router, or on
// the admin listener's router when --admin-listen is set.
//
//   CachedReadyCheck ready(check, clock);          // at most one check per second
//   RegisterHealthRoutes(public_router, ready);
//   RegisterMetricsRoute(admin_listen ? admin_router : public_router, metrics);
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace shopd::http {
class Router;
}
namespace shopd::obs {
class MetricsRegistry;
}

namespace shopd::app {

using ReadyCheck = std::function<boost::asio::awaitable<core::Result<void>>()>;

// Readiness, asked of the dependencies (the database) at most once per
// `ttl_ms` however often /ready is called: the last answer, good or bad, is
// reused for that long, and callers arriving while a check runs wait for that
// check instead of starting another (single flight, across reactor threads).
class CachedReadyCheck {
 public:
  static constexpr int64_t kDefaultTtlMs = 1000;
  // Callers waiting on one check; more get a 503 at once.
  static constexpr size_t kMaxWaiters = 1024;

  CachedReadyCheck(ReadyCheck check, const core::Clock& clock, int64_t ttl_ms = kDefaultTtlMs);

  boost::asio::awaitable<core::Result<void>> Check();
  // How many times the dependency check ran (for /metrics and tests).
  uint64_t checks_run() const { return checks_run_.load(std::memory_order_relaxed); }

 private:
  struct Waiter {
    boost::asio::any_io_executor executor;  // the caller's: it is resumed there
    boost::asio::any_completion_handler<void(core::Result<void>)> handler;
  };
  static void Complete(Waiter waiter, core::Result<void> result);
  void Wait(Waiter waiter);
  boost::asio::awaitable<core::Result<void>> RunCheck();

  ReadyCheck check_;
  const core::Clock& clock_;
  const int64_t ttl_ms_;
  std::atomic<uint64_t> checks_run_{0};

  std::mutex mu_;
  bool in_flight_ = false;
  bool have_result_ = false;
  int64_t checked_at_ms_ = 0;
  core::Result<void> last_;
  std::vector<Waiter> waiters_;
};

void RegisterHealthRoutes(http::Router& router, CachedReadyCheck& ready);
void RegisterMetricsRoute(http::Router& router, obs::MetricsRegistry& metrics);

}  // namespace shopd::app
