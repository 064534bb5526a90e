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
  MemoryRateLimiter limiter(clock, /*max_keys=*/1600);
  for (int i = 0; i < 100'000; ++i) limiter.Apply("ip:" + std::to_string(i), 5, 60'000, true);
  EXPECT_LE(limiter.size(), 1600u);
}

TEST(MemoryRateLimiter, ExpiredKeysAreForgottenFirst) {
  core::ManualClock clock;
  MemoryRateLimiter limiter(clock, 16);  // one key per shard
  for (int i = 0; i < 3; ++i) limiter.Apply("hot", 3, 60'000, true);
  EXPECT_FALSE(limiter.Apply("hot", 3, 60'000, false).allowed);
  clock.AdvanceMs(61'000);
  for (int i = 0; i < 1000; ++i) limiter.Apply("k" + std::to_string(i), 3, 60'000, true);
  EXPECT_LE(limiter.size(), 16u);
}

}  // namespace
}  // namespace shopd::ratelimit
