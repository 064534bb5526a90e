#include "app/maintenance.h"

#include <gtest/gtest.h>

#include <atomic>

#include "core/testing/async_test_util.h"

namespace shopd::app {
namespace {

TEST(Maintenance, RunsEachJobRepeatedlyUntilStopped) {
  std::atomic<int> a{0}, b{0};
  Maintenance m;
  m.Add({"a", std::chrono::milliseconds(1), [&a]() -> boost::asio::awaitable<void> {
           ++a;
           co_return;
         }});
  m.Add({"b", std::chrono::milliseconds(1), [&b]() -> boost::asio::awaitable<void> {
           ++b;
           co_return;
         }});
  m.Start();
  EXPECT_TRUE(shopd::testing::EventuallyTrue([&] { return a >= 3 && b >= 3; }));
  m.Stop();
  const int after = a;
  m.Stop();  // idempotent
  EXPECT_EQ(a, after);
}

TEST(Maintenance, AThrowingJobKeepsItsLoop) {
  std::atomic<int> runs{0};
  Maintenance m;
  m.Add({"flaky", std::chrono::milliseconds(1), [&runs]() -> boost::asio::awaitable<void> {
           ++runs;
           throw std::runtime_error("disk on fire");
           co_return;
         }});
  m.Start();
  EXPECT_TRUE(shopd::testing::EventuallyTrue([&] { return runs >= 2; }));
}

TEST(Maintenance, StartAndStopWithoutJobs) {
  Maintenance m;
  m.Start();
  m.Stop();
  Maintenance never_started;
  never_started.Stop();
}

}  // namespace
}  // namespace shopd::app
