#include "ratelimit/fallback_rate_limiter.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/clock.h"
#include "obs/metrics.h"
#include "ratelimit/memory/memory_rate_limiter.h"

namespace shopd::ratelimit {
namespace {

// A shared limiter that answers as told, or fails like an unreachable store.
class ScriptedLimiter final : public FallibleRateLimiter {
 public:
  boost::asio::awaitable<core::Result<Decision>> Hit(std::string_view, int, int64_t) override {
    ++hits;
    if (down) co_return Down();
    co_return answer;
  }
  boost::asio::awaitable<core::Result<Decision>> Peek(std::string_view, int, int64_t) override {
    ++peeks;
    if (down) co_return Down();
    co_return answer;
  }
  boost::asio::awaitable<core::Result<void>> Refund(std::string_view, int, int64_t) override {
    ++refunds;
    if (down) co_return Down();
    co_return core::Result<void>{};
  }

  static core::Error Down() {
    return core::Error::Make(core::Errc::kUnavailable, "unavailable", "redis 127.0.0.1:6379/0: no reply within 50 ms");
  }

  bool down = false;
  Decision answer{true, 0};
  int hits = 0;
  int peeks = 0;
  int refunds = 0;
};

template <class T>
T Await(boost::asio::awaitable<T> op) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.run();
  return fut.get();
}

TEST(FallbackRateLimiter, AnswersFromTheSharedLimiterWhileItAnswers) {
  core::ManualClock clock;
  ScriptedLimiter shared;
  MemoryRateLimiter local(clock);
  FallbackRateLimiter limiter(shared, local);
  shared.answer = Decision{false, 1'234};
  Decision d = Await(limiter.Hit("k", 1, 60'000));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 1'234);
  EXPECT_FALSE(Await(limiter.Peek("k", 1, 60'000)).allowed);
  Await(limiter.Refund("k", 1, 60'000));
  EXPECT_EQ(shared.hits + shared.peeks + shared.refunds, 3);
  EXPECT_EQ(local.size(), 0u);  // the local limiter was never asked
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

TEST(FallbackRateLimiter, WhileTheSharedLimiterFailsTheLocalOneEnforcesAndItIsCounted) {
  core::ManualClock clock;
  obs::MetricsRegistry metrics;
  ScriptedLimiter shared;
  MemoryRateLimiter local(clock);
  FallbackRateLimiter limiter(shared, local, &metrics, "login");
  shared.down = true;
  EXPECT_TRUE(Await(limiter.Hit("k", 2, 60'000)).allowed);
  EXPECT_TRUE(Await(limiter.Peek("k", 2, 60'000)).allowed);
  EXPECT_TRUE(Await(limiter.Hit("k", 2, 60'000)).allowed);
  Decision d = Await(limiter.Hit("k", 2, 60'000));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 30'000);
  Await(limiter.Refund("k", 2, 60'000));  // given back locally, where it was counted
  EXPECT_TRUE(Await(limiter.Hit("k", 2, 60'000)).allowed);

  auto count = [&](const char* op) {
    return metrics.GetCounter("shopd_ratelimit_fallbacks_total", "f", {{"limiter", "login"}, {"op", op}}).Value();
  };
  EXPECT_EQ(count("hit"), 4u);
  EXPECT_EQ(count("peek"), 1u);
  EXPECT_EQ(count("refund"), 1u);
  EXPECT_EQ(limiter.fallbacks(), 6u);
  EXPECT_NE(metrics.RenderPrometheus().find("shopd_ratelimit_fallbacks_total{limiter=\"login\",op=\"hit\"} 4"),
            std::string::npos);

  // Back to the shared limiter as soon as it answers again.
  shared.down = false;
  shared.answer = Decision{true, 0};
  EXPECT_TRUE(Await(limiter.Hit("k", 2, 60'000)).allowed);
  EXPECT_EQ(limiter.fallbacks(), 6u);
}

}  // namespace
}  // namespace shopd::ratelimit
