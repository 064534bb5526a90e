// ratelimit: the behaviour every RateLimiter backend must show. A backend's
// test instantiates it with a factory that builds the limiter over a
// ManualClock (a backend on a server adds the clock's time to the server's);
// a factory that returns null (its server is not installed) skips the suite:
//   INSTANTIATE_TEST_SUITE_P(Memory, RateLimiterContract, ::testing::Values(MakeMemory));
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "ratelimit/rate_limiter.h"

namespace shopd::ratelimit {

using RateLimiterFactory = std::function<std::unique_ptr<RateLimiter>(core::ManualClock&)>;

class RateLimiterContract : public ::testing::TestWithParam<RateLimiterFactory> {
 protected:
  void SetUp() override {
    limiter_ = GetParam()(clock_);
    if (limiter_ == nullptr) GTEST_SKIP() << "this backend's server is not available here (see stderr)";
  }
  Decision Hit(std::string_view key, int limit, int64_t window) { return Do(key, limit, window, true); }
  Decision Peek(std::string_view key, int limit, int64_t window) { return Do(key, limit, window, false); }
  Decision Do(std::string_view key, int limit, int64_t window, bool count) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<Decision> {
          if (count) co_return co_await limiter_->Hit(key, limit, window);
          co_return co_await limiter_->Peek(key, limit, window);
        },
        boost::asio::use_future);
    io.run();
    return fut.get();
  }
  void Refund(std::string_view key, int limit, int64_t window) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(io, limiter_->Refund(key, limit, window), boost::asio::use_future);
    io.run();
    fut.get();
  }

  core::ManualClock clock_;
  std::unique_ptr<RateLimiter> limiter_;
};

TEST_P(RateLimiterContract, AllowsUpToLimitThenRejectsWithRetryAfter) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Hit("k", 5, 60'000).allowed) << i;
  Decision d = Hit("k", 5, 60'000);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_ms, 0);
  EXPECT_LE(d.retry_after_ms, 12'000);  // one event's share of the window
  EXPECT_GE(d.RetryAfterSeconds(), 1);
}

TEST_P(RateLimiterContract, RefillsOverTheWindow) {
  for (int i = 0; i < 5; ++i) Hit("k", 5, 60'000);
  EXPECT_FALSE(Hit("k", 5, 60'000).allowed);
  clock_.AdvanceMs(12'000);
  EXPECT_TRUE(Hit("k", 5, 60'000).allowed);
  EXPECT_FALSE(Hit("k", 5, 60'000).allowed);
  clock_.AdvanceMs(60'000);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Hit("k", 5, 60'000).allowed);
}

TEST_P(RateLimiterContract, KeysAreIndependent) {
  for (int i = 0; i < 3; ++i) Hit("victim", 3, 60'000);
  EXPECT_FALSE(Hit("victim", 3, 60'000).allowed);
  EXPECT_TRUE(Hit("other", 3, 60'000).allowed);
}

TEST_P(RateLimiterContract, PeekDoesNotCount) {
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Peek("k", 2, 60'000).allowed);
  EXPECT_TRUE(Hit("k", 2, 60'000).allowed);
  EXPECT_TRUE(Hit("k", 2, 60'000).allowed);
  EXPECT_FALSE(Peek("k", 2, 60'000).allowed);
}

TEST_P(RateLimiterContract, RejectedHitsAreNotCounted) {
  Hit("k", 1, 10'000);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(Hit("k", 1, 10'000).allowed);
  clock_.AdvanceMs(10'000);
  EXPECT_TRUE(Hit("k", 1, 10'000).allowed);
}

TEST_P(RateLimiterContract, RefundGivesBackOneCountedEvent) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Hit("k", 3, 60'000).allowed) << i;
  EXPECT_FALSE(Hit("k", 3, 60'000).allowed);
  Refund("k", 3, 60'000);
  EXPECT_TRUE(Hit("k", 3, 60'000).allowed);
  EXPECT_FALSE(Hit("k", 3, 60'000).allowed);
  // Two refunds, two more events, no more.
  Refund("k", 3, 60'000);
  Refund("k", 3, 60'000);
  EXPECT_TRUE(Hit("k", 3, 60'000).allowed);
  EXPECT_TRUE(Hit("k", 3, 60'000).allowed);
  EXPECT_FALSE(Hit("k", 3, 60'000).allowed);
}

TEST_P(RateLimiterContract, RefundNeverCreditsMoreThanAFullBucket) {
  for (int i = 0; i < 10; ++i) Refund("fresh", 3, 60'000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Hit("fresh", 3, 60'000).allowed) << i;
  EXPECT_FALSE(Hit("fresh", 3, 60'000).allowed);

  // Refunds after the bucket refilled on its own give nothing extra either.
  clock_.AdvanceMs(120'000);
  for (int i = 0; i < 10; ++i) Refund("fresh", 3, 60'000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Hit("fresh", 3, 60'000).allowed) << i;
  EXPECT_FALSE(Hit("fresh", 3, 60'000).allowed);
}

TEST_P(RateLimiterContract, RefundTouchesOnlyItsKey) {
  Hit("a", 1, 60'000);
  Hit("b", 1, 60'000);
  Refund("a", 1, 60'000);
  EXPECT_TRUE(Hit("a", 1, 60'000).allowed);
  EXPECT_FALSE(Hit("b", 1, 60'000).allowed);
}

TEST_P(RateLimiterContract, LongKeysAreCountedAndKeptApart) {
  // Two 1 MiB keys that differ only in their last byte.
  std::string a(1 << 20, 'x');
  std::string b = a;
  a.back() = 'a';
  b.back() = 'b';
  EXPECT_TRUE(Hit(a, 1, 60'000).allowed);
  EXPECT_FALSE(Hit(a, 1, 60'000).allowed);
  EXPECT_FALSE(Peek(a, 1, 60'000).allowed);
  EXPECT_TRUE(Hit(b, 1, 60'000).allowed);
  Refund(a, 1, 60'000);
  EXPECT_TRUE(Hit(a, 1, 60'000).allowed);
  // A short key equal to neither is separate too.
  EXPECT_TRUE(Hit("x", 1, 60'000).allowed);
}

}  // namespace shopd::ratelimit
