#include "obs/log_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace shopd::obs {
namespace {

TEST(LogThrottle, OnePerIntervalWithTheCountHeldBack) {
  LogThrottle throttle(std::chrono::milliseconds(1'000));
  uint64_t suppressed = 99;
  EXPECT_TRUE(throttle.AllowAt(5'000, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_FALSE(throttle.AllowAt(5'001, suppressed));
  EXPECT_FALSE(throttle.AllowAt(5'999, suppressed));
  EXPECT_TRUE(throttle.AllowAt(6'000, suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_TRUE(throttle.AllowAt(60'000, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogThrottle, ConcurrentCallersLetExactlyOneThrough) {
  LogThrottle throttle(std::chrono::milliseconds(1'000'000));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1'000; ++i) {
        uint64_t suppressed = 0;
        if (throttle.AllowAt(1'000, suppressed)) ++allowed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 1);
  uint64_t suppressed = 0;
  EXPECT_TRUE(throttle.AllowAt(2'000'000, suppressed));
  EXPECT_EQ(suppressed, 3'999u);
}

}  // namespace
}  // namespace shopd::obs
