#include "ratelimit/memory/memory_rate_limiter.h"

#include "ratelimit/rate_limiter_contract_test.h"

namespace shopd::ratelimit {
namespace {

std::unique_ptr<RateLimiter> MakeMemory(core::ManualClock& clock) {
  return std::make_unique<MemoryRateLimiter>(clock);
}

INSTANTIATE_TEST_SUITE_P(Backends, RateLimiterContract, ::testing::Values(RateLimiterFactory(MakeMemory)),
                         [](const auto&) { return std::string("Memory"); });

TEST(MemoryRateLimiter, StaysBoundedUnderKeyFlood) {
  core::ManualClock clock;
  MemoryRateLimiter limiter(clock, {.max_keys = 1600});
  for (int i = 0; i < 100'000; ++i) limiter.Apply("ip:" + std::to_string(i), 5, 60'000, true);
  EXPECT_LE(limiter.size(), 1600u);
}

TEST(MemoryRateLimiter, ExpiredKeysAreForgottenFirst) {
  core::ManualClock clock;
  MemoryRateLimiter limiter(clock, {.max_keys = 16});  // one key per shard
  for (int i = 0; i < 3; ++i) limiter.Apply("hot", 3, 60'000, true);
  EXPECT_FALSE(limiter.Apply("hot", 3, 60'000, false).allowed);
  clock.AdvanceMs(61'000);
  for (int i = 0; i < 1000; ++i) limiter.Apply("k" + std::to_string(i), 3, 60'000, true);
  EXPECT_LE(limiter.size(), 16u);
}

TEST(MemoryRateLimiter, LongKeysCostAFixedSize) {
  core::ManualClock clock;
  MemoryRateLimiter limiter(clock);
  for (int i = 0; i < 100; ++i) {
    std::string key(64 * 1024, 'k');
    key += std::to_string(i);
    EXPECT_TRUE(limiter.Apply(key, 5, 60'000, true).allowed);
  }
  EXPECT_EQ(limiter.size(), 100u);
  // 100 keys of 64 KiB would be 6.4 MB; stored as digests they are a few KB.
  EXPECT_LE(limiter.bytes(), 100 * (kMaxStoredKeyBytes + MemoryRateLimiter::kEntryOverheadBytes));
}

TEST(MemoryRateLimiter, BoundedInBytes) {
  core::ManualClock clock;
  const size_t budget = 16 * 1024;
  MemoryRateLimiter limiter(clock, {.max_keys = 1'000'000, .max_bytes = budget});
  for (int i = 0; i < 10'000; ++i) {
    // 60-byte keys: under the digest threshold, so each is stored as is.
    std::string key = "login:pair:" + std::string(40, 'a') + std::to_string(100'000 + i);
    limiter.Apply(key, 5, 60'000, true);
  }
  EXPECT_LE(limiter.bytes(), budget);
  EXPECT_GT(limiter.size(), 0u);
  EXPECT_LT(limiter.size(), 10'000u);
}

TEST(MemoryRateLimiter, RefundToAFullBucketForgetsTheKey) {
  core::ManualClock clock;
  MemoryRateLimiter limiter(clock);
  limiter.Apply("k", 5, 60'000, true);
  EXPECT_EQ(limiter.size(), 1u);
  limiter.Give("k", 5, 60'000);
  EXPECT_EQ(limiter.size(), 0u);
  EXPECT_EQ(limiter.bytes(), 0u);
}

}  // namespace
}  // namespace shopd::ratelimit
