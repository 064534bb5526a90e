#include "exec/worker_pool.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <future>
#include <optional>
#include <vector>

namespace shopd::exec {
namespace {

namespace asio = boost::asio;

TEST(WorkerPool, RunsOffThreadAndResumesOnCaller) {
  WorkerPool pool(2, 16);
  asio::io_context io;
  std::thread::id caller, worker, resumed;
  int value = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    caller = std::this_thread::get_id();
    core::Result<int> r = co_await pool.Run([&]() -> core::Result<int> {
      worker = std::this_thread::get_id();
      return 42;
    });
    resumed = std::this_thread::get_id();
    value = *r;
  }, asio::detached);
  io.run();
  EXPECT_EQ(value, 42);
  EXPECT_NE(caller, worker);
  EXPECT_EQ(caller, resumed);
}

// The nice value of the calling thread (Linux: per thread).
int ThreadNice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

TEST(WorkerPool, NiceLowersThePriorityOfItsThreadsOnly) {
  const int base = ThreadNice();
  WorkerPool niced(WorkerPoolOptions{.threads = 1, .max_queued = 4, .name = "niced", .nice = 5});
  WorkerPool plain(1, 4, "plain");
  asio::io_context io;
  int niced_value = -100, plain_value = -100;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    niced_value = *co_await niced.Run([]() -> core::Result<int> { return ThreadNice(); });
    plain_value = *co_await plain.Run([]() -> core::Result<int> { return ThreadNice(); });
  }, asio::detached);
  io.run();
  EXPECT_EQ(niced_value, std::min(19, base + 5));
  EXPECT_EQ(plain_value, base);
  EXPECT_EQ(ThreadNice(), base);  // the caller's thread is untouched
}

TEST(WorkerPool, ATaskThatWaitedTooLongFailsInsteadOfRunning) {
  core::ManualClock clock;
  WorkerPool pool(WorkerPoolOptions{.threads = 1, .max_queued = 4, .max_wait_ms = 100, .clock = &clock});
  std::promise<void> started, release;
  auto gate = release.get_future().share();
  asio::io_context io;
  std::optional<core::Result<int>> first, second;
  bool second_ran = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    first = co_await pool.Run([&]() -> core::Result<int> {
      started.set_value();
      gate.wait();
      return 1;
    });
  }, asio::detached);
  io.poll();
  started.get_future().wait();  // the only thread is busy
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    second = co_await pool.Run([&]() -> core::Result<int> {
      second_ran = true;
      return 2;
    });
  }, asio::detached);
  io.poll();
  ASSERT_EQ(pool.queued(), 1u);
  clock.AdvanceMs(101);  // older than max_wait_ms by the time the thread is free
  release.set_value();
  io.run();
  ASSERT_TRUE(first && *first);
  ASSERT_TRUE(second);
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().code, core::Errc::kUnavailable);
  EXPECT_EQ(second->error().retry_after_s, 1);
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(pool.expired(), 1u);
  EXPECT_EQ(pool.rejected(), 1u);
}

TEST(WorkerPool, ATaskThatWouldWaitTooLongIsRefusedAtOnce) {
  core::ManualClock clock;
  WorkerPool pool(WorkerPoolOptions{.threads = 1, .max_queued = 16, .max_wait_ms = 200, .clock = &clock});
  asio::io_context io;
  // One task that takes 50 ms (of the manual clock) teaches the pool its run time.
  std::optional<core::Result<int>> warm;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    warm = co_await pool.Run([&]() -> core::Result<int> {
      clock.AdvanceMs(50);
      return 0;
    });
  }, asio::detached);
  io.run();
  ASSERT_TRUE(warm && *warm);

  std::promise<void> started, release;
  auto gate = release.get_future().share();
  std::vector<core::Errc> refused;
  int ran = 0;
  auto submit = [&](bool block) {
    asio::co_spawn(io, [&, block]() -> asio::awaitable<void> {
      auto r = co_await pool.Run([&, block]() -> core::Result<int> {
        if (block) {
          started.set_value();
          gate.wait();
        }
        return 1;
      });
      if (r) ++ran;
      else refused.push_back(r.error().code);
    }, asio::detached);
    io.poll();
  };
  io.restart();
  submit(true);
  started.get_future().wait();
  submit(false);  // expected wait 50 ms: queued
  submit(false);  // 100 ms: queued
  EXPECT_TRUE(refused.empty());
  submit(false);  // 150 ms > half of 200: refused at once, though the queue has room
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0], core::Errc::kUnavailable);
  EXPECT_EQ(pool.queued(), 2u);
  release.set_value();
  io.run();
  EXPECT_EQ(ran, 3);

  // A pool that learnt its tasks take longer than the bound still runs one
  // on an idle thread (and so keeps learning).
  io.restart();
  std::optional<core::Result<int>> slow, next;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    slow = co_await pool.Run([&]() -> core::Result<int> {
      clock.AdvanceMs(10'000);
      return 3;
    });
    next = co_await pool.Run([]() -> core::Result<int> { return 4; });
  }, asio::detached);
  io.run();
  ASSERT_TRUE(slow && *slow);
  ASSERT_TRUE(next && *next) << next->error().internal;
}

TEST(WorkerPool, FullQueueFailsFastWithUnavailable) {
  WorkerPool pool(1, 1);
  std::promise<void> started, release;
  auto gate = release.get_future().share();
  asio::io_context io;
  std::vector<core::Errc> errors;
  int ok = 0;
  auto submit = [&](std::promise<void>* on_start) {
    asio::co_spawn(io, [&, on_start]() -> asio::awaitable<void> {
      auto r = co_await pool.Run([gate, on_start]() -> core::Result<int> {
        if (on_start) on_start->set_value();
        gate.wait();
        return 1;
      });
      if (r) ++ok;
      else errors.push_back(r.error().code);
    }, asio::detached);
  };
  submit(&started);
  io.poll();
  started.get_future().wait();  // the only worker is now busy
  for (int i = 0; i < 3; ++i) submit(nullptr);
  io.poll();  // one waits in the queue, two are rejected at once
  EXPECT_EQ(errors.size(), 2u);
  release.set_value();
  io.restart();
  io.run();
  EXPECT_EQ(ok, 2);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], core::Errc::kUnavailable);
  EXPECT_EQ(pool.rejected(), 2u);
}

}  // namespace
}  // namespace shopd::exec
